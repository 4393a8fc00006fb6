"""The two reference loaders the benchmark measures ours against, each run as a process of its own
(`python -m tmdb_devtools bench-step floor|original ...`): the byte-read floor, and the original per-file
pandas loader."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tmdb_pipeline import SUBFOLDERS


def _read_all(paths: list[str]) -> tuple[int, int]:
    """Read files the cheapest way Python can: open, fstat, one read of the whole file, close."""
    total = 0
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            data = os.read(fd, size + 1)
            while len(data) < size:  # a short read: the rest follows
                more = os.read(fd, size - len(data) + 1)
                if not more:
                    break
                data += more
        finally:
            os.close(fd)
        total += len(data)
    return len(paths), total


def floor_read(folder: Path, workers: int) -> tuple[int, int]:
    """List and read every file's bytes, nothing else, with `workers` processes: (files, bytes)."""
    paths = [
        entry.path
        for sub in SUBFOLDERS.values()
        if (folder / sub).is_dir()
        for entry in os.scandir(folder / sub)
    ]
    chunks = [paths[i : i + 2000] for i in range(0, len(paths), 2000)]
    if workers <= 1:
        results: Iterable[tuple[int, int]] = map(_read_all, chunks)
        return _add(results)
    with ProcessPoolExecutor(workers) as pool:
        return _add(pool.map(_read_all, chunks))


def _add(results: Iterable[tuple[int, int]]) -> tuple[int, int]:
    files = size = 0
    for n, b in results:
        files, size = files + n, size + b
    return files, size


def original_load(folder: Path, database: Path) -> dict[str, int]:
    """The original loader: json.load + pandas.json_normalize per file, concat per entity, a DuckDB table."""
    import duckdb
    import pandas as pd

    rows: dict[str, int] = {}
    con = duckdb.connect(str(database))
    try:
        for entity, sub in SUBFOLDERS.items():
            frames = []
            path = folder / sub
            if not path.is_dir():
                continue
            for entry in os.scandir(path):
                with open(entry.path, encoding="utf-8") as f:
                    frames.append(pd.json_normalize(json.load(f)))
            if not frames:
                continue
            frame = pd.concat(frames, ignore_index=True)
            con.register("frame", frame)
            con.execute(f"create or replace table {entity} as select * from frame")
            con.unregister("frame")
            rows[entity] = len(frame)
    finally:
        con.close()
    return rows


def run_step(step: str, folder: Path, extra: str) -> int:
    """`floor <folder> <workers>` or `original <folder> <database>`."""
    if step == "floor":
        files, size = floor_read(folder, int(extra))
        print(f"read {files:,} files, {size:,} bytes")
    else:
        print(f"loaded rows: {original_load(folder, Path(extra))}")
    return 0
