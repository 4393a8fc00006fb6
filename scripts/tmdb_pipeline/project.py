"""The dbt project the pipeline builds: its folder and the folders dbt writes into.

The package is installed editable from the project (`make venv`), so the project is the folder two levels
above this file. TMDB_PROJECT_DIR points elsewhere (an installed copy running against a checkout).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tmdb_pipeline.errors import UserError


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def target_dir(self) -> Path:
        """dbt's target/ (DBT_TARGET_PATH moves it, e.g. one per test run; relative to the project)."""
        return self.root / os.environ.get("DBT_TARGET_PATH", "target")

    @property
    def log_dir(self) -> Path:
        return self.root / os.environ.get("DBT_LOG_PATH", "logs")

    @property
    def packages_dir(self) -> Path:
        return self.root / "dbt_packages"

    @property
    def offline_view(self) -> Path:
        """A view of the project without packages.yml, for dbt where the packages cannot be had."""
        return self.root / ".dbt_offline"

    def relative(self, path: Path) -> str:
        """A path as a person in the project folder would type it; absolute when it lies outside."""
        try:
            return str(path.resolve().relative_to(self.root)) if path.is_absolute() else str(path)
        except ValueError:
            return str(path)


@cache
def project() -> Project:
    override = os.environ.get("TMDB_PROJECT_DIR")
    candidates = [Path(override)] if override else [Path(__file__).resolve().parents[2], Path.cwd()]
    for folder in candidates:
        if (folder / "dbt_project.yml").is_file():
            return Project(folder.resolve())
    raise UserError(
        f"No dbt project found (looked for dbt_project.yml in {', '.join(map(str, candidates))}). Run `tmdb` "
        "from the project's folder, or set TMDB_PROJECT_DIR to it."
    )


def tool(name: str) -> str:
    """A command installed beside this interpreter (the project's venv), else the one on PATH."""
    local = Path(sys.executable).with_name(name)
    return str(local) if local.exists() else (shutil.which(name) or name)
