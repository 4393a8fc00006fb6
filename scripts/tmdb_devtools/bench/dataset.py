"""The benchmark's data: the generated dataset (cached per size), hard-linked work copies and subsets, and
the deterministic changes the incremental step makes."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tmdb_pipeline import SUBFOLDERS
from tmdb_pipeline.extract import sample

MIB = 1024 * 1024
NEW_FRACTION, CHANGED_FRACTION = 0.01, 0.005
CHANGED_EVERY = round(1 / CHANGED_FRACTION)  # every 200th existing title changes


def dataset_files(folder: Path) -> dict[str, list[str]]:
    """The JSON files of a dataset folder per entity, sorted by name."""
    found: dict[str, list[str]] = {}
    for entity, sub in SUBFOLDERS.items():
        path = folder / sub
        found[entity] = (
            sorted(e.name for e in os.scandir(path) if e.name.endswith(".json")) if path.is_dir() else []
        )
    return found


def count_files(folder: Path) -> int:
    return sum(len(names) for names in dataset_files(folder).values())


def ensure_dataset(
    size: str, bench_dir: Path, announce: Callable[[str], None]
) -> tuple[Path, sample.SampleSpec]:
    """The generated dataset of this size, generated now unless a complete one is cached."""
    movies, series = sample.parse_size(size)
    spec = sample.SampleSpec(movies, series, sample.DEFAULT_SEED, 1)
    folder = bench_dir / f"dataset-{size}"
    if sample.cached_spec(folder) == spec:  # SAMPLE.json is written last: it marks a complete dataset
        announce(f"Dataset: {spec.label()}, cached in {folder}")
        return folder, spec
    announce(f"Dataset: generating {spec.label()} into {folder} (once; cached for later runs) ...")
    stats = sample.generate(folder, spec, workers=os.cpu_count() or 2, force=True)
    announce(
        f"  {stats.movies + stats.series:,} files, {stats.bytes / MIB:,.0f} MiB in {stats.elapsed_s:.0f} s"
    )
    return folder, spec


def link_tree(source: Path, target: Path, only: dict[str, list[str]] | None = None) -> None:
    """Hard-link a dataset folder's files into a new folder: a copy that costs no data, made fresh each run.

    Files are later changed by writing a new file and renaming it over the link, so the cached dataset
    itself is never modified.
    """
    if target.exists():
        shutil.rmtree(target)
    tmp = target.with_name(f".{target.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    names = only if only is not None else dataset_files(source)
    for entity, sub in SUBFOLDERS.items():
        (tmp / sub).mkdir(parents=True)
        for name in names.get(entity, []):
            os.link(source / sub / name, tmp / sub / name)
    tmp.rename(target)


def subset_names(files: dict[str, list[str]], n: int) -> dict[str, list[str]]:
    """The first n files, taken from each entity in proportion to its share of the dataset."""
    total = sum(len(v) for v in files.values())
    if n >= total:
        return files
    movies = round(n * len(files["movies"]) / total)
    return {"movies": files["movies"][:movies], "series": files["series"][: n - movies]}


def apply_changes(folder: Path, spec: Any) -> tuple[int, int]:
    """Add 1 % new titles and change 0.5 % of the existing ones, deterministically. Returns (new, changed).

    New titles are the generator's next indices (new ids). A changed title gets a new popularity and one
    more vote; every fourth changed one is also renamed, so merges by key see titles change too. Each
    changed file is written anew and renamed over the old name (a hard link to the cached dataset stays
    untouched).
    """
    import orjson

    new = changed = 0
    for entity, sub in SUBFOLDERS.items():
        base = spec.movies if entity == "movies" else spec.series
        prefix, id_of = ("movie_", sample.movie_id) if entity == "movies" else ("series_", sample.series_id)
        title_key = "title" if entity == "movies" else "name"
        for index in range(base, base + max(1, round(base * NEW_FRACTION))):
            doc = sample.make_doc(entity, spec.seed, index, 1, base)
            replace_file(folder / sub / f"{prefix}{id_of(index)}.json", orjson.dumps(doc))
            new += 1
        for number, index in enumerate(range(3, base, CHANGED_EVERY)):
            path = folder / sub / f"{prefix}{id_of(index)}.json"
            doc = orjson.loads(path.read_bytes())
            doc["popularity"] = round(float(doc.get("popularity") or 0) * 1.5 + 0.25, 3)
            doc["vote_count"] = int(doc.get("vote_count") or 0) + 1
            if number % 4 == 0:
                doc[title_key] = f"{doc.get(title_key) or 'Untitled'} (Restored)"
            replace_file(path, orjson.dumps(doc))
            changed += 1
    return new, changed


def replace_file(path: Path, data: bytes) -> None:
    """Write a file anew and rename it over the old name: a hard link to the cached dataset stays intact."""
    tmp = path.with_name(f".{path.name}.new")
    tmp.write_bytes(data)
    os.replace(tmp, path)
