"""Writing the sample as files in the dataset's layout, into a folder or into a kagglehub cache."""

from __future__ import annotations

import logging
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from tmdb_pipeline import SUBFOLDERS
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.extract import kaggle
from tmdb_pipeline.extract.sample.documents import make_doc, movie_id, series_id
from tmdb_pipeline.extract.sample.spec import GENERATOR_VERSION, SampleSpec, parse_size
from tmdb_pipeline.processes import mp_context

log = logging.getLogger(__name__)

PARAMS_FILE = "SAMPLE.json"  # beside movies/ and series/ in the version folder; staging never reads it
_CHUNK = 5_000  # indices per task when generating in parallel


def _write_range(folder: str, entity: str, start: int, stop: int, seed: int, version: int, base: int) -> int:
    prefix = "movie_" if entity == "movies" else "series_"
    id_of = movie_id if entity == "movies" else series_id
    written = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for index in range(start, stop):
        data = orjson.dumps(make_doc(entity, seed, index, version, base))
        fd = os.open(f"{folder}/{prefix}{id_of(index)}.json", flags, 0o644)
        try:
            view = memoryview(data)
            while view:  # a short write (disk nearly full) is followed by one that raises
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        written += len(data)
    return written


@dataclass
class GenerateStats:
    movies: int
    series: int
    bytes: int
    elapsed_s: float


def generate(out_dir: Path, spec: SampleSpec, *, workers: int = 2, force: bool = False) -> GenerateStats:
    """Write the sample in the dataset's layout (out_dir/movies/movies, out_dir/series/series).

    The files are written into a temporary sibling folder that is renamed into place when complete,
    so an interrupted run never leaves a half-written sample behind.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise UserError(
            f"{out_dir} already exists and is not empty. Remove it, choose another --out, or pass --force."
        )
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tasks = []
        for entity, sub in SUBFOLDERS.items():
            folder = tmp / sub
            folder.mkdir(parents=True)
            base = spec.movies if entity == "movies" else spec.series
            total = spec.count(entity)
            tasks += [
                (str(folder), entity, i, min(i + _CHUNK, total), spec.seed, spec.version, base)
                for i in range(0, total, _CHUNK)
            ]
        if workers > 1 and len(tasks) > 1:
            with ProcessPoolExecutor(workers, mp_context=mp_context()) as pool:
                written = sum(pool.map(_write_range, *zip(*tasks, strict=True)))
        else:
            written = sum(_write_range(*task) for task in tasks)
        (tmp / PARAMS_FILE).write_bytes(
            orjson.dumps({**asdict(spec), "generator_version": GENERATOR_VERSION})
        )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(
            f"Could not write the sample to {out_dir}: {exc.strerror or exc}. "
            "Free some disk space or choose another folder."
        ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return GenerateStats(spec.count("movies"), spec.count("series"), written, time.perf_counter() - started)


def cached_spec(dataset_dir: Path) -> SampleSpec | None:
    """The parameters a sample folder was generated with, or None if it is not a complete sample."""
    try:
        params = orjson.loads((dataset_dir / PARAMS_FILE).read_bytes())
        if params.pop("generator_version") != GENERATOR_VERSION:
            return None
        return SampleSpec(**params)
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return None


def ensure_in_kagglehub_cache(cache_dir: Path, spec: SampleSpec, *, workers: int = 2) -> tuple[Path, bool]:
    """Generate the sample into a kagglehub cache unless the same sample is already there.

    Returns (dataset folder, whether it was generated now). The completion marker is written last,
    so kagglehub never sees a half-written sample as complete.
    """
    target = kaggle.cached_dataset_dir(cache_dir, spec.version)
    marker = kaggle.cache_completion_marker(cache_dir, spec.version)
    if marker.exists() and cached_spec(target) == spec:
        return target, False
    marker.unlink(missing_ok=True)
    generate(target, spec, workers=workers, force=True)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return target, True


def write(
    size: str,
    *,
    seed: int,
    version: int,
    out: Path | None,
    kagglehub_cache: Path | None,
    workers: int = 2,
    force: bool = False,
) -> None:
    """`tmdb sample`: the sample of `size` movies as the dataset folder `out`, or into the kagglehub cache
    `kagglehub_cache` (where one already there is kept)."""
    movies, series = parse_size(size)
    spec = SampleSpec(movies, series, seed, version)
    started = time.perf_counter()
    if out is not None:
        generate(out, spec, workers=workers, force=force)
        where = out
    elif kagglehub_cache is not None:
        where, fresh = ensure_in_kagglehub_cache(kagglehub_cache, spec, workers=workers)
        if not fresh:
            log.info(f"The {spec.label()} is already in {where}; nothing to do.")
            return
    else:
        raise UserError("`tmdb sample` writes a dataset folder (--out) or into a kagglehub cache: give one.")
    files = spec.count("movies") + spec.count("series")
    log.info(
        f"Wrote the {spec.label()} to {where}: {files:,} files in {time.perf_counter() - started:.1f} s."
    )
