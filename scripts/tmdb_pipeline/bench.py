"""`make bench`: times the pipeline from files to tested marts;
compares it with a byte-read floor and with the original loader.

Every step runs as its own process tree, measured from the outside: wall time, CPU time (user + sys of the
whole tree, from the kernel's accounting of reaped children) and peak RSS of the whole tree (the RSS of
every process in it summed, sampled every 50 ms). The dataset comes from the built-in generator
(tmdb_pipeline.sample), is generated once per size and cached under data/bench/. Steps:

  floor           Python reading every file's bytes (2 processes): what any loader must at least spend
  original        the original loader on a subset: json.load + pandas.json_normalize per file, concat,
                  one DuckDB table
  subset_stage    ours on the same subset: stage ...
  subset_raw      ... and load the raw layer (`dbt build -s raw`)
  dbt_parse       dbt parsing the project once, cold (not part of any target; later steps parse partially)
  stage           stage the full dataset into a fresh landing zone
  raw_load        `dbt build -s raw` on it
  dbt_build       the full `dbt build` (every model, every test): a fresh warehouse, the same landing zone
  make_run        `pipeline.py run --source <folder>` on a fresh data folder: files to tested marts
  rerun_noop      the same command again, nothing new
  incremental     again after adding 1 % new files and changing 0.5 % of the existing ones
  full_rebuild    `pipeline.py run` on the final input in a fresh data folder; then every core and mart table
                  of the incremental warehouse is compared with the rebuild's (order-independent checksums)

    python scripts/pipeline.py bench [--size full|N] [--subset 100000] [--skip original,...]
                                     [--report-dir docs] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from tmdb_pipeline import paths
from tmdb_pipeline.errors import LockedError, UserError
from tmdb_pipeline.paths import REPO_ROOT

STEPS = (
    "floor",
    "original",
    "subset_stage",
    "subset_raw",
    "dbt_parse",
    "stage",
    "raw_load",
    "dbt_build",
    "make_run",
    "rerun_noop",
    "incremental",
    "full_rebuild",
)
SUBFOLDERS = {"movies": "movies/movies", "series": "series/series"}
COMPARED_SCHEMAS = ("core", "marts")
# Columns that record how a row got loaded rather than what it says. They differ by design between a warehouse
# built up batch by batch and one rebuilt from a single batch, so the identity check leaves them out
# (and says so).
LINEAGE_SUFFIXES = ("batch_id", "loaded_at", "staged_at", "raw_record_key", "superseded_record_count")
LINEAGE_PREFIXES = ("dbt_",)
# A history table (one with `is_current`) keeps every version it was loaded with: only its current rows are
# compared, without their validity period.
HISTORY_VALIDITY = ("valid_from", "valid_to")
# Columns that count what every batch brought, so a warehouse loaded in two batches counts more.
LOAD_HISTORY_COLUMNS = {
    "marts.mart_audit__load_reconciliation": (
        "files_seen",
        "files_staged",
        "files_quarantined",
        "raw_rows",
        "duplicates_removed",
    ),
}
SAMPLE_INTERVAL_S = 0.05
NEW_FRACTION, CHANGED_FRACTION = 0.01, 0.005
CHANGED_EVERY = round(1 / CHANGED_FRACTION)  # every 200th existing title changes
MIB = 1024 * 1024
# The raw layer and its own tests; "cautious" leaves out tests that also read a later layer not built here.
RAW_LOAD = ("dbt", "build", "--select", "raw", "--indirect-selection", "cautious")

TARGETS = {
    # name: (description, limit, comparison)
    "files_to_tested_marts_s": ("files -> tested marts (make_run wall time)", 180.0, "<="),
    "stage_raw_vs_floor": ("stage + raw load / byte-read floor", 2.5, "<="),
    "original_vs_ours": ("original loader / (stage + raw load), on the subset", 100.0, ">="),
    "peak_rss_mb": ("peak RSS of the whole process tree, any step of ours (MiB)", 2048.0, "<="),
    "rerun_noop_s": ("re-run with nothing new (s)", 15.0, "<="),
    "incremental_vs_full": ("1 % new + 0.5 % changed / full rebuild", 0.10, "<="),
    "incremental_identical": ("incremental result identical to a full rebuild", True, "=="),
}


class BenchError(UserError):
    """A benchmark step failed: its command's output is in the step's log file."""


@dataclass
class Step:
    name: str
    files: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_pss_mb: float
    ok: bool = True
    note: str = ""


@dataclass
class Context:
    size: str
    bench_dir: Path
    report_dir: Path
    subset: int
    skip: set[str]
    python: str = sys.executable
    steps: list[Step] = field(default_factory=list)
    log_dir: Path = Path()
    announce: Callable[[str], None] = print

    @property
    def runs_dir(self) -> Path:
        """Landing zones and warehouses of this run (one folder per size)."""
        return self.bench_dir / f"runs-{self.size}"

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)


# ----------------------------------------------------------------------------------------------------
# Measuring a process tree


def _pss(pid: int) -> int | None:
    """Proportional set size (shared pages split between their processes), where Linux reports it."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def tree_rss(procs: Iterable[Any]) -> int:
    """Sum of RSS over processes, in bytes; those that ended meanwhile count nothing."""
    import psutil

    rss = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            rss += proc.memory_info().rss
    return rss


def tree_pss(procs: Iterable[Any]) -> int:
    """Sum of PSS over processes (RSS where the kernel does not report PSS), in bytes.

    Forked workers share their parent's pages until written: the RSS sum counts such pages once per
    process, the PSS sum once in all.
    """
    import psutil

    pss = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            pss += _pss(proc.pid) or proc.memory_info().rss
    return pss


def process_tree(root: Any) -> list[Any]:
    import psutil

    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


class _MemorySampler(threading.Thread):
    """Samples the summed RSS of a process tree every 50 ms until stopped, and its summed PSS every 250 ms.

    Listing the tree reads every process of the machine and PSS makes the kernel walk each process's
    memory, so both are done every 5th sample only, to keep the sampler's own cost small.
    """

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.root = psutil.Process(pid)
        self.peak_rss = self.peak_pss = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        procs: list[Any] = []
        tick = 0
        while not self._stop_event.is_set():
            if tick % 5 == 0:
                procs = process_tree(self.root)
                self.peak_pss = max(self.peak_pss, tree_pss(procs))
            tick += 1
            self.peak_rss = max(self.peak_rss, tree_rss(procs))
            self._stop_event.wait(SAMPLE_INTERVAL_S)

    def stop(self) -> tuple[int, int]:
        self._stop_event.set()
        self.join()
        return self.peak_rss, self.peak_pss


def measure(
    name: str,
    command: Sequence[str],
    *,
    files: int,
    log_dir: Path,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> Step:
    """Run one command as a process tree; its output goes to <log_dir>/<name>.log."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            list(command),
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        sampler = _MemorySampler(proc.pid)
        sampler.start()
        try:
            returncode = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            peak, peak_pss = sampler.stop()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    step = Step(
        name,
        files,
        round(wall, 2),
        round(cpu, 2),
        round(peak / MIB, 1),
        round(peak_pss / MIB, 1),
        returncode == 0,
    )
    if returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
        step.note = f"exit code {returncode}; see {log_path}"
        if check:
            raise BenchError(
                f"Benchmark step {name!r} failed (exit code {returncode}). Last lines of {log_path}:\n{tail}"
            )
    return step


# ----------------------------------------------------------------------------------------------------
# Dataset, work copy and subset


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


def ensure_dataset(ctx: Context) -> tuple[Path, Any]:
    """The generated dataset of this size, generated now unless a complete one is cached."""
    from tmdb_pipeline import sample

    movies, series = sample.parse_size(ctx.size)
    spec = sample.SampleSpec(movies, series, sample.DEFAULT_SEED, 1)
    folder = ctx.bench_dir / f"dataset-{ctx.size}"
    if sample.cached_spec(folder) == spec:  # SAMPLE.json is written last: it marks a complete dataset
        ctx.announce(f"Dataset: {spec.label()}, cached in {folder}")
        return folder, spec
    ctx.announce(f"Dataset: generating {spec.label()} into {folder} (once; cached for later runs) ...")
    stats = sample.generate(folder, spec, workers=os.cpu_count() or 2, force=True)
    ctx.announce(
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

    from tmdb_pipeline import sample

    new = changed = 0
    for entity, sub in SUBFOLDERS.items():
        base = spec.movies if entity == "movies" else spec.series
        prefix, id_of = ("movie_", sample.movie_id) if entity == "movies" else ("series_", sample.series_id)
        title_key = "title" if entity == "movies" else "name"
        for index in range(base, base + max(1, round(base * NEW_FRACTION))):
            doc = sample.make_doc(entity, spec.seed, index, 1, base)
            _write_replacing(folder / sub / f"{prefix}{id_of(index)}.json", orjson.dumps(doc))
            new += 1
        for number, index in enumerate(range(3, base, CHANGED_EVERY)):
            path = folder / sub / f"{prefix}{id_of(index)}.json"
            doc = orjson.loads(path.read_bytes())
            doc["popularity"] = round(float(doc.get("popularity") or 0) * 1.5 + 0.25, 3)
            doc["vote_count"] = int(doc.get("vote_count") or 0) + 1
            if number % 4 == 0:
                doc[title_key] = f"{doc.get(title_key) or 'Untitled'} (Restored)"
            _write_replacing(path, orjson.dumps(doc))
            changed += 1
    return new, changed


def _write_replacing(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.new")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------------
# The two reference loaders (run in their own process by `bench.py --internal ...`)


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


def _internal(argv: Sequence[str]) -> int:
    what, folder = argv[0], Path(argv[1])
    if what == "floor":
        files, size = floor_read(folder, int(argv[2]))
        print(f"read {files:,} files, {size:,} bytes")
    elif what == "original":
        print(f"loaded rows: {original_load(folder, Path(argv[2]))}")
    else:
        raise SystemExit(f"unknown internal step {what!r}")
    return 0


# ----------------------------------------------------------------------------------------------------
# Comparing warehouses


def _checksum_expr(column: str, data_type: str) -> str:
    quoted = '"' + column.replace('"', '""') + '"'
    if data_type in ("DOUBLE", "FLOAT", "REAL"):
        # 9 significant digits: an average or a sum of doubles differs in its last bits with evaluation order
        return f"printf('%.9g', {quoted})"
    return quoted


def _left_out(name: str, columns: list[str]) -> list[str]:
    """Columns of a table that record its load history rather than its data (see LINEAGE_* and HISTORY_*)."""
    history = "is_current" in columns
    return [
        c
        for c in columns
        if is_lineage(c)
        or c in LOAD_HISTORY_COLUMNS.get(name, ())
        or (history and (c in HISTORY_VALIDITY or c.endswith("_version_key")))
    ]


def table_checksums(warehouse: Path, schemas: Sequence[str] = COMPARED_SCHEMAS) -> dict[str, dict[str, Any]]:
    """Per table: rows, an order-independent checksum (the sum of the row hashes), one per column, and
    the columns left out. Of a history table (one with `is_current`) only the current rows count."""
    import duckdb

    result: dict[str, dict[str, Any]] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns "
            "where table_catalog = current_database() and table_schema in (select unnest(?)) "
            "order by table_schema, table_name, ordinal_position",
            [list(schemas)],
        ).fetchall()
        tables: dict[str, list[tuple[str, str]]] = {}
        for schema, table, column, data_type in columns:
            tables.setdefault(f"{schema}.{table}", []).append((column, data_type))
        for name, cols in sorted(tables.items()):
            left_out = _left_out(name, [c for c, _ in cols])
            exprs = [_checksum_expr(c, t) for c, t in cols if c not in left_out]
            schema, table = name.split(".", 1)
            where = " where is_current" if any(c == "is_current" for c, _ in cols) else ""
            sums = ", ".join(f"coalesce(sum(hash({e})), 0)::varchar" for e in exprs)
            values = con.execute(
                f"select count(*), coalesce(sum(hash(row({', '.join(exprs) or '1'}))), 0)::varchar"
                f'{", " + sums if sums else ""} from "{schema}"."{table}"{where}'
            ).fetchone() or (0, "0")
            kept = [c for c, _ in cols if c not in left_out]
            result[name] = {
                "rows": int(values[0]),
                "checksum": str(values[1]),
                "columns": dict(zip(kept, map(str, values[2:]), strict=True)),
                "left_out": left_out,
                "current_rows_only": bool(where),
            }
    return result


def is_lineage(column: str) -> bool:
    lowered = column.lower()
    return lowered.endswith(LINEAGE_SUFFIXES) or lowered.startswith(LINEAGE_PREFIXES)


def compare_checksums(
    incremental: dict[str, dict[str, Any]], rebuild: dict[str, dict[str, Any]]
) -> tuple[bool, list[dict[str, Any]]]:
    rows = []
    for name in sorted(set(incremental) | set(rebuild)):
        a, b = incremental.get(name), rebuild.get(name)
        same = a is not None and b is not None and a["rows"] == b["rows"] and a["checksum"] == b["checksum"]
        rows.append(
            {
                "table": name,
                "incremental_rows": a["rows"] if a else None,
                "rebuild_rows": b["rows"] if b else None,
                "incremental_checksum": a["checksum"] if a else None,
                "rebuild_checksum": b["checksum"] if b else None,
                "left_out": (a or b or {}).get("left_out", []),
                "current_rows_only": (a or b or {}).get("current_rows_only", False),
                "differing_columns": sorted(
                    c
                    for c in set((a or {}).get("columns", {})) | set((b or {}).get("columns", {}))
                    if (a or {}).get("columns", {}).get(c) != (b or {}).get("columns", {}).get(c)
                ),
                "identical": same,
            }
        )
    return bool(rows) and all(r["identical"] for r in rows), rows


# ----------------------------------------------------------------------------------------------------
# The run


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TMDB_DATA_DIR", "TMDB_LANDING_DIR", "TMDB_DUCKDB_PATH", "TMDB_DATA_ROOT")
    }
    env.update(extra)
    return env


def _warm_parse(command: list[str], env: dict[str, str]) -> None:
    """Save dbt's parse for this environment, unmeasured, so that the next dbt step parses partially."""
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
        raise BenchError(f"dbt parse failed before the subset's raw load:\n{tail}")


def _data_dir_of(root: Path) -> Path:
    found = [p for p in root.glob("folder-*") if p.is_dir()]
    if len(found) != 1:
        raise BenchError(f"Expected one data folder under {root}, found {len(found)}: {found}")
    return found[0]


def _fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


@contextlib.contextmanager
def bench_lock(ctx: Context) -> Iterator[None]:
    """One benchmark per size and bench folder at a time: runs share the work copy and the runs folder."""
    ctx.bench_dir.mkdir(parents=True, exist_ok=True)
    with open(ctx.bench_dir / f".bench-{ctx.size}.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise LockedError(
                f"Another benchmark of size {ctx.size} ({handle.read().strip() or 'another process'}) is "
                f"running in {ctx.bench_dir}. Wait for it to finish, or stop it, then run again."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"PID {os.getpid()}")
        handle.flush()
        yield


def run(ctx: Context) -> tuple[bool, dict[str, Any]]:
    """Run every step not skipped; returns (all steps passed and results identical, comparison)."""
    pipeline = [ctx.python, str(REPO_ROOT / "scripts" / "pipeline.py")]
    internal = [ctx.python, "-m", "tmdb_pipeline.bench", "--internal"]
    runs = ctx.runs_dir
    ctx.log_dir = ctx.bench_dir / "logs"
    # Every step of ours uses the same data root and warehouse path: dbt's partial parsing is invalidated when
    # the warehouse path changes, which a user re-running on the same data never sees. The one cold parse
    # is measured on its own (dbt_parse).
    root, warehouse = runs / "data", runs / "tmdb.duckdb"
    ours = {
        "TMDB_DATA_ROOT": str(root),
        "TMDB_DUCKDB_PATH": str(warehouse),
        "DBT_TARGET_PATH": str(ctx.bench_dir / "target"),
        "DBT_LOG_PATH": str(ctx.log_dir / "dbt"),
    }
    # the internal steps import tmdb_pipeline from scripts/
    py_env = _env(
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT / "scripts"), os.environ.get("PYTHONPATH")]))
    )
    comparison: dict[str, Any] = {}

    def fresh_data() -> dict[str, str]:
        _fresh(root)
        for leftover in runs.glob("tmdb.duckdb*"):
            leftover.unlink()
        return _env(**ours)

    def record(step: Step) -> Step:
        ctx.steps.append(step)
        flag = "" if step.ok else "  FAILED: " + step.note
        ctx.announce(
            f"  {step.name:<13} {step.files:>9,} files {step.wall_s:>9.2f} s wall {step.cpu_s:>9.2f} s CPU "
            f"{step.peak_rss_mb:>7.0f} MiB peak RSS ({step.peak_pss_mb:.0f} PSS){flag}"
        )
        return step

    def wanted(name: str) -> bool:
        return name not in ctx.skip

    dataset, spec = ensure_dataset(ctx)
    names = dataset_files(dataset)
    total = sum(len(v) for v in names.values())
    work = ctx.bench_dir / f"work-{ctx.size}"
    ctx.announce(f"Work copy: hard links to the dataset in {work}")
    link_tree(dataset, work)
    subset = subset_names(names, ctx.subset)
    n_subset = sum(len(v) for v in subset.values())
    subset_dir = ctx.bench_dir / f"subset-{n_subset}-of-{ctx.size}"
    if {"original", "subset_stage", "subset_raw"} - ctx.skip:
        link_tree(dataset, subset_dir, subset)
    runs.mkdir(parents=True, exist_ok=True)

    # Every step is to find the files in the page cache, the first one included: a cold first read would
    # make the floor slow and every ratio to it flattering. The work copies are hard links to the same inodes.
    ctx.announce("Warming the page cache: reading every file once (not measured) ...")
    subprocess.run([*internal, "floor", str(dataset), "2"], env=py_env, check=True, stdout=subprocess.DEVNULL)
    ctx.announce("Steps (warm page cache; each one a process tree measured from outside):")
    if wanted("dbt_parse"):
        shutil.rmtree(ctx.bench_dir / "target", ignore_errors=True)
        # with the data folder the later steps use: dbt re-parses the files whose env_var() values changed
        env = {**fresh_data(), "TMDB_DATA_DIR": str(root / paths.data_dir_for(str(work)).name)}
        record(measure("dbt_parse", [*pipeline, "dbt", "parse"], files=0, log_dir=ctx.log_dir, env=env))
    if wanted("floor"):
        record(
            measure(
                "floor", [*internal, "floor", str(dataset), "2"], files=total, log_dir=ctx.log_dir, env=py_env
            )
        )
    if wanted("original"):
        db = runs / "original.duckdb"
        db.unlink(missing_ok=True)
        record(measure("original", [*internal, "original", str(subset_dir), str(db)], files=n_subset,
                       log_dir=ctx.log_dir, env=py_env, check=False))  # fmt: skip
        db.unlink(missing_ok=True)
    if wanted("subset_stage"):
        # The subset has its own data folder, so its own dbt state (target dir). Sharing one would make dbt
        # re-parse fully on every switch between the subset and the full data (the profile reads the data
        # folder), a cost someone re-running on one dataset never pays. Like every other dbt step of ours,
        # subset_raw starts from a saved parse made beforehand, unmeasured, with its environment.
        env = {**fresh_data(), "DBT_TARGET_PATH": str(ctx.bench_dir / "target-subset")}
        record(measure("subset_stage", [*pipeline, "stage", "--source", str(subset_dir)], files=n_subset,
                       log_dir=ctx.log_dir, env=env))  # fmt: skip
        if wanted("subset_raw"):
            env["TMDB_DATA_DIR"] = str(_data_dir_of(root))
            _warm_parse([*pipeline, "dbt", "parse"], env)
            record(measure("subset_raw", [*pipeline, *RAW_LOAD], files=n_subset, log_dir=ctx.log_dir, env=env,
                           check=False))  # fmt: skip

    if wanted("stage"):
        env = fresh_data()
        record(measure("stage", [*pipeline, "stage", "--source", str(work)], files=total, log_dir=ctx.log_dir,
                       env=env))  # fmt: skip
        env["TMDB_DATA_DIR"] = str(_data_dir_of(root))
        if wanted("raw_load"):
            record(measure("raw_load", [*pipeline, *RAW_LOAD], files=total, log_dir=ctx.log_dir, env=env,
                           check=False))  # fmt: skip
        if wanted("dbt_build"):
            for leftover in runs.glob("tmdb.duckdb*"):
                leftover.unlink()  # a fresh warehouse over the same landing zone
            record(measure("dbt_build", [*pipeline, "build"], files=total, log_dir=ctx.log_dir, env=env,
                           check=False))  # fmt: skip

    if wanted("make_run"):
        env = fresh_data()
        command = [*pipeline, "run", "--source", str(work)]
        record(measure("make_run", command, files=total, log_dir=ctx.log_dir, env=env, check=False))
        if wanted("rerun_noop"):
            record(measure("rerun_noop", command, files=total, log_dir=ctx.log_dir, env=env, check=False))
        if wanted("incremental"):
            new, changed = apply_changes(work, spec)
            ctx.announce(f"  (added {new:,} new files and changed {changed:,} existing ones in {work})")
            step = record(measure("incremental", command, files=new + changed, log_dir=ctx.log_dir, env=env,
                                  check=False))  # fmt: skip
            step.note = step.note or f"{new:,} new + {changed:,} changed files, {total + new:,} in all"
            if wanted("full_rebuild"):
                kept = runs / "incremental.duckdb"
                kept.unlink(missing_ok=True)
                warehouse.rename(kept)
                env = fresh_data()
                record(measure("full_rebuild", command, files=total + new, log_dir=ctx.log_dir, env=env,
                               check=False))  # fmt: skip
                identical, rows = compare_checksums(table_checksums(kept), table_checksums(warehouse))
                comparison = {"identical": identical, "tables": rows}
                print_comparison(comparison, ctx.announce)
    ok = all(s.ok for s in ctx.steps) and comparison.get("identical", True)
    return ok, comparison


def ratios(ctx: Context) -> dict[str, float | None]:
    def wall(name: str) -> float | None:
        step = ctx.step(name)
        return step.wall_s if step is not None else None

    def div(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a is not None and b else None

    def plus(a: float | None, b: float | None) -> float | None:
        return a + b if a is not None and b is not None else None

    return {
        "stage_raw_vs_floor": div(plus(wall("stage"), wall("raw_load")), wall("floor")),
        "original_vs_ours": div(wall("original"), plus(wall("subset_stage"), wall("subset_raw"))),
        "incremental_vs_full": div(wall("incremental"), wall("full_rebuild")),
        "rerun_noop_vs_full": div(wall("rerun_noop"), wall("full_rebuild")),
        "make_run_vs_floor": div(wall("make_run"), wall("floor")),
    }


def evaluate_targets(ctx: Context, ratio: dict[str, float | None], identical: bool | None) -> dict[str, Any]:
    ours = [s.peak_rss_mb for s in ctx.steps if s.name not in ("floor", "original")]
    make_run = ctx.step("make_run")
    noop = ctx.step("rerun_noop")
    values: dict[str, Any] = {
        "files_to_tested_marts_s": make_run.wall_s if make_run and make_run.ok else None,
        "stage_raw_vs_floor": ratio["stage_raw_vs_floor"],
        "original_vs_ours": ratio["original_vs_ours"],
        "peak_rss_mb": max(ours) if ours else None,
        "rerun_noop_s": noop.wall_s if noop and noop.ok else None,
        "incremental_vs_full": ratio["incremental_vs_full"],
        "incremental_identical": identical,
    }
    targets: dict[str, Any] = {}
    for name, (description, limit, op) in TARGETS.items():
        value = values[name]
        met: bool | None
        if value is None:
            met = None  # not measured in this run
        elif op == "<=":
            met = value <= limit
        elif op == ">=":
            met = value >= limit
        else:
            met = value == limit
        targets[name] = {"description": description, "limit": limit, "op": op, "value": value, "met": met}
    return targets


def machine_info() -> dict[str, Any]:
    import psutil

    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "cpu_model": model,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "dbt_core": version("dbt-core"),
        "dbt_duckdb": version("dbt-duckdb"),
        "duckdb": version("duckdb"),
        "pandas": version("pandas"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# ----------------------------------------------------------------------------------------------------
# Reports


def print_comparison(comparison: dict[str, Any], announce: Callable[[str], None] = print) -> None:
    announce("Incremental warehouse vs. full rebuild (core and mart tables, order-independent checksums):")
    for row in comparison["tables"]:
        mark = "identical" if row["identical"] else "DIFFERENT"
        if row["differing_columns"]:
            mark += f" in {', '.join(row['differing_columns'])}"
        if row["current_rows_only"]:
            mark += " (current rows)"
        announce(
            f"  {row['table']:<45} {row['incremental_rows'] or 0:>10,} vs "
            f"{row['rebuild_rows'] or 0:>10,} rows  "
            f"{mark}"
        )
    left_out = sorted({c for row in comparison["tables"] for c in row["left_out"]})
    if left_out:
        announce(f"  (load-history columns left out of the checksums: {', '.join(left_out)})")
    announce(f"  => {'IDENTICAL' if comparison['identical'] else 'NOT IDENTICAL'}")


def results_table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| step | files | wall s | CPU s | peak RSS MiB | peak PSS MiB | files/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in result["steps"]:
        rate = f"{s['files'] / s['wall_s']:,.0f}" if s["files"] and s["wall_s"] else ""
        flag = "" if s["ok"] else " (failed)"
        lines.append(
            f"| {s['name']}{flag} | {s['files']:,} | {s['wall_s']:.2f} | {s['cpu_s']:.2f} "
            f"| {s['peak_rss_mb']:.0f} | {s['peak_pss_mb']:.0f} "
            f"| {rate} |"
        )
    return lines


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def targets_table(result: dict[str, Any]) -> list[str]:
    lines = ["| target | limit | measured | met |", "| --- | ---: | ---: | :---: |"]
    for t in result["targets"].values():
        value = t["value"]
        shown = "not measured" if value is None else _number(value)
        met = {True: "yes", False: "**no**", None: "–"}[t["met"]]
        lines.append(f"| {t['description']} | {t['op']} {t['limit']} | {shown} | {met} |")
    return lines


START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"

DEFAULT_DOC = f"""# Performance

How fast the pipeline turns the dataset's files into tested marts, measured by `make bench`
(`scripts/tmdb_pipeline/bench.py`). The section between the markers below is rewritten by every run;
the rest of this page is written by hand.

{START}
{END}
"""


def render_results(result: dict[str, Any]) -> str:
    m = result["machine"]
    end = "load_average_at_end" in m
    lines = [
        START,
        f"## Latest results ({result['generated_at']}, size `{result['size']}`)",
        "",
        f"Machine: {m['cores']} cores ({m['cores_usable']} usable), {m['ram_gib']} GiB RAM, "
        f"{m['cpu_model']}, "
        f"{m['os']}; Python {m['python']}, dbt-core {m['dbt_core']}, dbt-duckdb {m['dbt_duckdb']}, "
        f"duckdb {m['duckdb']}, pandas {m['pandas']}. Load average at start: "
        f"{', '.join(str(x) for x in m['load_average_at_start'])}"
        + (f"; at end: {', '.join(str(x) for x in m['load_average_at_end'])}." if end else ".")
        + (f" Steps left out of this run: {', '.join(result['skipped'])}." if result.get("skipped") else ""),
        "",
        *results_table(result),
        "",
        *targets_table(result),
        "",
        "Ratios: " + ", ".join(f"{k} = {v}" for k, v in result["ratios"].items() if v is not None) + ".",
        "",
    ]
    comparison = result.get("comparison") or {}
    if comparison:
        different = [r["table"] for r in comparison["tables"] if not r["identical"]]
        left_out = sorted({c for r in comparison["tables"] for c in r["left_out"]})
        lines += [
            f"Incremental vs. full rebuild: {len(comparison['tables'])} core and mart tables compared, "
            + (
                "all identical"
                if comparison["identical"]
                else f"**different: {', '.join(different) or 'none found'}**"
            )
            + (f" (load-lineage columns left out: {', '.join(left_out)})." if left_out else "."),
            "",
        ]
    for step in result["steps"]:
        if step["note"]:
            lines.append(f"- {step['name']}: {step['note']}")
    lines.append(END)
    return "\n".join(lines)


def write_reports(result: dict[str, Any], report_dir: Path) -> None:
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "performance.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    doc = report_dir / "performance.md"
    text = doc.read_text(encoding="utf-8") if doc.exists() else DEFAULT_DOC
    if START not in text or END not in text:
        text = text.rstrip("\n") + "\n\n" + START + "\n" + END + "\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(head + render_results(result) + tail, encoding="utf-8")


def print_table(result: dict[str, Any], announce: Callable[[str], None] = print) -> None:
    announce("")
    for line in [*results_table(result), "", *targets_table(result)]:
        announce(line)
    announce("Ratios: " + ", ".join(f"{k} = {v}" for k, v in result["ratios"].items() if v is not None))


# ----------------------------------------------------------------------------------------------------
# Entry point


def ensure_requirements(python: str = sys.executable) -> None:
    """Install requirements-bench.txt into this interpreter's environment when pandas or psutil is missing."""
    missing = [name for name in ("pandas", "psutil") if _importable(name) is False]
    if not missing:
        return
    print(
        f"Installing the benchmark's requirements ({', '.join(missing)} missing): requirements-bench.txt ..."
    )
    done = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "-r", str(REPO_ROOT / "requirements-bench.txt")],
        check=False,
    )
    if done.returncode != 0:
        raise UserError(
            "Could not install the benchmark's requirements (pip failed; see above). Install them with "
            f"`{python} -m pip install -r requirements-bench.txt`, then run `make bench` again."
        )


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pipeline.py bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size", default="full", help="`full` (526,000 movies + 94,000 series) or N movies (N/4 series)"
    )
    parser.add_argument(
        "--subset", type=int, default=100_000, help="files for the original-loader comparison"
    )
    parser.add_argument("--skip", default="", help=f"comma-separated steps to leave out: {', '.join(STEPS)}")
    parser.add_argument(
        "--bench-dir", type=Path, default=REPO_ROOT / "data" / "bench", help="cache and work folder"
    )
    parser.add_argument(
        "--report-dir", type=Path, default=REPO_ROOT / "docs", help="where performance.{md,json} go"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the warehouses and landing zones of the last run"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["--internal"]:
        return _internal(args_list[1:])
    args = parse_args(args_list)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - set(STEPS)
    try:
        if unknown:
            raise UserError(
                f"Unknown step(s) to skip: {', '.join(sorted(unknown))}. Steps: {', '.join(STEPS)}."
            )
        from tmdb_pipeline import sample

        size = "full" if str(args.size).lower() == "full" else str(sample.parse_size(args.size)[0])
        ensure_requirements()
        ctx = Context(
            size=size,
            bench_dir=args.bench_dir.resolve(),
            report_dir=args.report_dir,
            subset=args.subset,
            skip=skip,
        )
        machine = machine_info()
        with bench_lock(ctx):
            ok, comparison = run(ctx)
        result: dict[str, Any] = {
            "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "size": size,
            "machine": machine,
            "steps": [asdict(s) for s in ctx.steps],
            "skipped": [name for name in STEPS if name in skip],
        }
        result["ratios"] = ratios(ctx)
        result["targets"] = evaluate_targets(
            ctx, result["ratios"], comparison.get("identical") if comparison else None
        )
        result["comparison"] = comparison
        result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        print_table(result)
        write_reports(result, args.report_dir)
        print(f"\nWrote {args.report_dir / 'performance.json'} and {args.report_dir / 'performance.md'}.")
        if not args.keep:
            shutil.rmtree(ctx.runs_dir, ignore_errors=True)
        if not ok:
            print("\nBENCHMARK FAILED: a step failed, or the incremental result differs from the rebuild.")
        return 0 if ok else 1
    except UserError as error:
        print(f"\nERROR: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
