"""Where things live: one data folder per data source, and `data/current` pointing at the last one staged."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_ROOT = Path(os.environ.get("TMDB_DATA_ROOT", REPO_ROOT / "data"))
CURRENT_LINK = DATA_ROOT / "current"


def data_dir_for(source: str) -> Path:
    """The data folder (landing zone + warehouse) of a source: `sample`, `kaggle`, or a dataset folder.

    Each source gets its own folder so that runs on different data never mix in one warehouse.
    """
    if source in ("sample", "kaggle"):
        return DATA_ROOT / source
    folder = Path(source).expanduser().resolve()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", "-".join(folder.parts[-3:])).strip("-").lower()[:48]
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:8]
    return DATA_ROOT / f"folder-{slug}-{digest}"


def landing_dir(data_dir: Path) -> Path:
    return Path(os.environ.get("TMDB_LANDING_DIR", data_dir / "landing"))


def warehouse_path(data_dir: Path) -> Path:
    return Path(os.environ.get("TMDB_DUCKDB_PATH", data_dir / "tmdb.duckdb"))


def point_current_at(data_dir: Path) -> None:
    """Make `data/current` the folder that `dbt` uses when run by hand."""
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    tmp = CURRENT_LINK.with_name(f".current.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(os.path.relpath(data_dir, DATA_ROOT))
    tmp.replace(CURRENT_LINK)
