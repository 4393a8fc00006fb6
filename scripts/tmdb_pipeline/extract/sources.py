"""Where the data comes from: the Kaggle dataset, the built-in synthetic sample, or a folder in its layout.

Every source ends as a `Dataset`: a folder holding `movies/movies/*.json` and/or `series/series/*.json`.
Both the Kaggle dataset and the sample are obtained through the real `kagglehub.dataset_download` call: the
sample is generated into a kagglehub cache of its own, so every offline run exercises the same code path as a
Kaggle run. Nothing is staged until the dataset folder is complete.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tmdb_pipeline import KAGGLE_HANDLE, KAGGLE_VERSION, SUBFOLDERS
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.extract import kaggle
from tmdb_pipeline.extract.sample import DEFAULT_MOVIES, SampleSpec, ensure_in_kagglehub_cache, parse_size
from tmdb_pipeline.workspace import DataRoot

log = logging.getLogger(__name__)

SOURCE_KINDS = ("auto", "sample", "kaggle")  # or a folder


@dataclass(frozen=True)
class Dataset:
    kind: str  # "sample" | "kaggle" | "folder"
    path: Path  # a folder in the dataset's own layout (movies/movies/*.json, series/series/*.json)
    label: str  # one line for summaries


def resolve_source(source: str, data_root: DataRoot | None = None) -> Dataset:
    """Turn SOURCE (`auto`, `sample`, `kaggle` or a folder) into a dataset folder, downloading if needed. The
    sample is generated under the data root (default: TMDB_DATA_ROOT, or the project's data/)."""
    data_root = data_root or DataRoot.from_env()
    source = (source or "auto").strip()
    if source == "auto":
        where = kaggle.kaggle_credentials_source()
        if where is None:
            log.info(
                "No Kaggle credentials found: using the built-in synthetic sample (invented titles in the "
                f"real files' shape). {kaggle.CREDENTIALS_HELP}, or pass SOURCE=kaggle, to use the real "
                "dataset."
            )
            return _sample_dataset(data_root)
        log.info(f"Kaggle credentials found ({where}): using the Kaggle dataset (SOURCE=sample: offline).")
        return _kaggle_dataset()
    if source == "sample":
        return _sample_dataset(data_root)
    if source == "kaggle":
        return _kaggle_dataset()
    folder = Path(source).expanduser()
    check_dataset_folder(folder)
    return Dataset("folder", folder.resolve(), f"folder {folder.resolve()}")


# Folder


def check_dataset_folder(folder: Path) -> None:
    """A dataset folder must hold movies/movies and/or series/series; say what was found otherwise."""
    if not folder.exists():
        raise UserError(f"The dataset folder {folder} does not exist. {_layout_help()}")
    if not folder.is_dir():
        raise UserError(f"{folder} is a file, not a folder. {_layout_help()}")
    if any((folder / sub).is_dir() for sub in SUBFOLDERS.values()):
        return
    hint = ""
    for candidate in _nearby_datasets(folder):
        hint = f" Did you mean {candidate}?"
        break
    try:
        found = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    except OSError as exc:
        raise UserError(f"The dataset folder {folder} cannot be read: {exc.strerror}.") from exc
    listing = ", ".join(found[:8]) + (", ..." if len(found) > 8 else "") if found else "nothing"
    raise UserError(
        f"{folder} is not a dataset folder: it has neither movies/movies nor series/series "
        f"(it holds {listing}).{hint} {_layout_help()}"
    )


def _layout_help() -> str:
    return (
        "Expected the Kaggle dataset's layout: FOLDER/movies/movies/movie_<id>.json and/or "
        "FOLDER/series/series/series_<id>.json, one TMDB object per file."
    )


def _nearby_datasets(folder: Path) -> Iterator[Path]:
    """Dataset folders just above or a few levels below the one given (a common slip: one level off)."""
    for up in (folder.parent, folder.parent.parent):
        if any((up / sub).is_dir() for sub in SUBFOLDERS.values()):
            yield up
    queue, visited = [(folder, 0)], 0
    while queue and visited < 200:
        current, depth = queue.pop(0)
        visited += 1
        if depth and any((current / sub).is_dir() for sub in SUBFOLDERS.values()):
            yield current
            continue
        if depth < 6:
            with contextlib.suppress(OSError):
                queue += [
                    (p, depth + 1) for p in sorted(current.iterdir()) if p.is_dir() and not p.is_symlink()
                ]


# ----------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------
# Sample


def sample_spec_from_env() -> SampleSpec:
    size = os.environ.get("TMDB_SAMPLE_SIZE", "").strip() or str(DEFAULT_MOVIES)
    try:
        movies, series = parse_size(size)
    except UserError as exc:
        raise UserError(f"TMDB_SAMPLE_SIZE: {exc}") from exc
    return SampleSpec(movies=movies, series=series)


def sample_cache_dir(data_root: DataRoot) -> Path:
    """The kagglehub cache the sample is generated into: inside the sample's own data folder."""
    return data_root.for_source("sample").root / "kagglehub-cache"


def _sample_dataset(data_root: DataRoot) -> Dataset:
    spec = sample_spec_from_env()
    cache = sample_cache_dir(data_root)
    started = time.perf_counter()
    expected, fresh = ensure_in_kagglehub_cache(cache, spec)
    if fresh:
        log.info(f"Generated the {spec.label()} in {time.perf_counter() - started:.1f} s.")
    path = kaggle.kagglehub_download(kaggle.VERSIONED_HANDLE, cache_dir=cache)
    if path.resolve() != expected.resolve():
        raise UserError(
            f"kagglehub returned {path} for the built-in sample, expected {expected}. "
            f"Delete {cache} and run again."
        )
    check_dataset_folder(path)
    return Dataset("sample", path, spec.label())


# ----------------------------------------------------------------------------------------------------
# Kaggle


def _kaggle_dataset() -> Dataset:
    label = f"Kaggle dataset {KAGGLE_HANDLE} version {KAGGLE_VERSION}"
    cached = kaggle.in_kagglehub_cache()
    if not cached and kaggle.kaggle_credentials_source() is None:
        raise UserError(
            f"No Kaggle credentials found, so the dataset {KAGGLE_HANDLE} cannot be downloaded. "
            f"{kaggle.CREDENTIALS_HELP}. Or run with SOURCE=sample to use the built-in sample offline."
        )
    if not cached:
        _warn_if_short_of_space()
    log.info(
        f"Getting the {label} through kagglehub (a first download is about 2.5 GB; later runs use its cache)."
    )
    path = kaggle.kagglehub_download(kaggle.VERSIONED_HANDLE)
    try:
        check_dataset_folder(path)
    except UserError as exc:
        raise UserError(
            f"kagglehub returned {path}, which does not look like the TMDB dataset: {exc}"
        ) from exc
    return Dataset("kaggle", path, label)


NEEDED_FREE_BYTES = 4 * 1024**3  # the archive, then the 620k files it holds (about 2.5 GB on disk)


def _warn_if_short_of_space() -> None:
    from kagglehub.config import get_cache_folder

    folder = Path(get_cache_folder())
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free < NEEDED_FREE_BYTES:
        log.warning(
            f"Warning: only {free / 1024**3:.1f} GB free for kagglehub's cache ({get_cache_folder()}); "
            f"the download needs about {NEEDED_FREE_BYTES / 1024**3:.0f} GB. Set KAGGLEHUB_CACHE to a "
            "roomier disk if it fails."
        )
