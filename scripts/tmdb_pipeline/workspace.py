"""Where the data lives: one data folder per source (a `Workspace`), all of them under one data root.

`data/` holds `sample/`, `kaggle/` and `folder-<name>-<hash>/` (so runs on different data never mix in one
warehouse), `current` (a link to the folder staged last: what `tmdb build` and dbt by hand use) and the
run lock. A data folder holds the landing zone, the DuckDB warehouse, the Spark catalog and tables, the
published marts and the stamp of its last green build. Each path can be moved by an environment variable
(TMDB_DATA_ROOT, TMDB_DATA_DIR, TMDB_LANDING_DIR, TMDB_DUCKDB_PATH, TMDB_SPARK_DIR); the Workspace reads
them once, and hands dbt absolute paths, so nothing downstream reads them again.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tmdb_pipeline import locks
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.landing_zone import existing_batches
from tmdb_pipeline.project import project

# What profiles.yml and the sources read, each a path of the data folder (Workspace.dbt_env): every dbt run
# gets all of them, so a dbt parse saved by one run fits the next (dbt parses a file again when an env_var()
# it read has another value, or was unset).
DBT_ENV_VARIABLES = ("TMDB_DATA_DIR", "TMDB_LANDING_DIR", "TMDB_DUCKDB_PATH", "TMDB_SPARK_DIR")


def _env_path(name: str) -> Path | None:
    """A path from the environment, absolute, as given (a link in it stays a link, named as it was set)."""
    value = os.environ.get(name)
    return Path(os.path.abspath(Path(value).expanduser())) if value else None


@dataclass(frozen=True)
class DataRoot:
    path: Path

    @classmethod
    def from_env(cls) -> DataRoot:
        return cls(_env_path("TMDB_DATA_ROOT") or project().root / "data")

    @property
    def current_link(self) -> Path:
        return self.path / "current"

    def for_source(self, kind: str, folder: Path | None = None) -> Workspace:
        """The data folder of a source: `sample`, `kaggle`, or a dataset folder (kind `folder`)."""
        if kind != "folder":
            return self.workspace(self.path / kind)
        assert folder is not None
        folder = folder.expanduser().resolve()
        slug = re.sub(r"[^A-Za-z0-9]+", "-", "-".join(folder.parts[-3:])).strip("-").lower()[:48]
        digest = hashlib.sha256(str(folder).encode()).hexdigest()[:8]
        return self.workspace(self.path / f"folder-{slug}-{digest}")

    def workspace(self, folder: Path) -> Workspace:
        return Workspace(folder.resolve() if folder.exists() else folder.absolute(), self)

    def current(self) -> Workspace | None:
        """The data folder to build: TMDB_DATA_DIR, else the one staged last, else None."""
        chosen = _env_path("TMDB_DATA_DIR")
        if chosen is not None:
            return self.workspace(chosen)
        return self.workspace(self.current_link.resolve()) if self.current_link.exists() else None

    def require_current(self, why: str = "build") -> Workspace:
        found = self.current()
        if found is None:
            raise UserError(
                f"Nothing has been staged yet, so there is nothing to {why}. Run `make stage` (or "
                "`make run`) first; `make stage SOURCE=sample` works offline."
            )
        return found

    @contextmanager
    def run_lock(self) -> Iterator[None]:
        """One pipeline run per checkout at a time: runs share dbt's target/ folder, and two runs on one
        warehouse would collide. A second run is told so at once, rather than wait or spoil the first."""
        self.path.mkdir(parents=True, exist_ok=True)
        with locks.exclusive(
            self.path / ".pipeline.lock",
            what=f"This checkout's pipeline (data root {self.path})",
            advice="Wait for that run to finish, or stop it, then run again. This run changed nothing.",
        ):
            yield


@dataclass(frozen=True)
class Workspace:
    """One data folder: everything one source's pipeline reads and writes besides the project itself."""

    root: Path
    data_root: DataRoot

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def landing(self) -> Path:
        return _env_path("TMDB_LANDING_DIR") or self.root / "landing"

    @property
    def warehouse(self) -> Path:
        """The DuckDB file."""
        return _env_path("TMDB_DUCKDB_PATH") or self.root / "tmdb.duckdb"

    @property
    def spark_dir(self) -> Path:
        """The Spark target's catalog (metastore_db/) and tables (warehouse/)."""
        return _env_path("TMDB_SPARK_DIR") or self.root / "spark"

    @property
    def publish_dir(self) -> Path:
        return self.root / "publish"

    @property
    def ml_dir(self) -> Path:
        """The published box-office model: `<version>/` (model card, predictions, model file), `latest`."""
        return self.root / "ml"

    @property
    def mlflow_dir(self) -> Path:
        """MLflow's tracking store and model registry (`mlflow.db`, SQLite), its artifacts (`artifacts/`)."""
        return self.root / "mlflow"

    @property
    def history_dir(self) -> Path:
        """The run history (tmdb_pipeline.monitoring.history): beside the warehouse, not in it, so a full
        refresh or a fresh warehouse keeps it; only `tmdb history clear` removes it."""
        return self.root / "history"

    @property
    def published_history_dir(self) -> Path:
        """The history as published for readers (the dashboard's Pipeline health page): `latest` -> a
        snapshot of every table."""
        return self.publish_dir / "history"

    def stamp_file(self, target: str) -> Path:
        """The record of the last green build on a target (tmdb_pipeline.warehouse.build_stamp)."""
        return self.root / f".last-green-build-{target}.json"

    def batches(self) -> list[str]:
        """Complete batches in the landing zone, oldest first."""
        return existing_batches(self.landing)

    def make_current(self) -> None:
        """Point `data/current` at this folder: what `tmdb build` and dbt by hand use next."""
        link = self.data_root.current_link
        link.parent.mkdir(parents=True, exist_ok=True)
        tmp = link.with_name(f".current.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.path.relpath(self.root, link.parent))
        tmp.replace(link)

    def dbt_env(self) -> dict[str, str]:
        """What profiles.yml and the sources read: every path of this folder, absolute."""
        paths = (self.root, self.landing, self.warehouse, self.spark_dir)
        return dict(zip(DBT_ENV_VARIABLES, map(str, paths), strict=True))

    def relative(self) -> str:
        """This folder as a person in the project folder would type it (data/sample)."""
        return project().relative(self.root)
