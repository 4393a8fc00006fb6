"""Running the real pipeline command (`tmdb`, what `make run` calls) in a sandbox, and reading what it left
behind: the landing zone, the summary it printed, and its tables (tmdb_devtools.checksums compares
two warehouses).

A sandbox keeps everything a run writes out of the repository: data root (landing zones, `data/current`,
the run lock), dbt's target/ and logs/, HOME. dbt re-parses the whole project (~20 s) whenever the warehouse
path changes, so every sandbox builds its warehouse at one path shared by the session (`slot`) and keeps
it in its own folder between runs: the file is moved into the slot for a run and back out after it. The
slot's folder is a symlink, so that a test can put it on another disk (`slot_on`) under the same path.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson

from tmdb_devtools.checksums import left_out
from tmdb_pipeline.report.warehouse_stats import LAYERS

REPO_ROOT = Path(__file__).resolve().parents[2]
TMDB = (sys.executable, "-m", "tmdb_pipeline")  # the `tmdb` command, run by this interpreter
# dbt's working relations: never visible in a finished warehouse, and not after a killed run either.
WORKING_RELATION = re.compile(r"__dbt_(tmp|backup)|__dbt_tmp", re.IGNORECASE)
WAREHOUSE_FILES = ("", ".wal")  # a DuckDB database is its file plus, between checkpoints, a write-ahead log


@dataclass
class Run:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    elapsed_s: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        """For assertion messages: the command, its exit code and the end of its output."""
        tail = "\n".join(self.output.splitlines()[-60:])
        return f"tmdb {' '.join(self.args)} -> exit {self.returncode} in {self.elapsed_s:.1f} s\n{tail}"


class Sandbox:
    """One user's checkout, as far as the pipeline can tell: its own data root, HOME, logs and warehouse."""

    def __init__(self, root: Path, target_dir: Path, slot: Path) -> None:
        self.root = root
        self.data_root = root / "data"
        self.home = root / "home"
        self.logs = root / "logs"
        self.warehouse = root / "warehouse" / "tmdb.duckdb"  # where this sandbox keeps its warehouse
        self.target_dir = target_dir
        self.slot = slot  # the warehouse path every run uses (TMDB_DUCKDB_PATH)
        for folder in (self.home, self.logs, self.warehouse.parent):
            folder.mkdir(parents=True, exist_ok=True)

    @property
    def lock_file(self) -> Path:
        return self.data_root / ".pipeline.lock"

    @property
    def dbt_log(self) -> Path:
        return self.logs / "dbt.log"

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("KAGGLE", "TMDB_", "DBT_", "PYTHONPATH"))
        }
        env.update(
            HOME=str(self.home),
            KAGGLEHUB_CACHE=str(self.root / "kagglehub-cache"),
            TMDB_DATA_ROOT=str(self.data_root),
            TMDB_DUCKDB_PATH=str(self.slot),
            TMDB_SKIP_DBT_DEPS="1",  # no dbt Hub: without dbt_packages/, expectations are skipped, loudly
            TMDB_THREADS="2",
            DBT_TARGET_PATH=str(self.target_dir),
            DBT_LOG_PATH=str(self.logs),
            DBT_SEND_ANONYMOUS_USAGE_STATS="False",
        )
        env.update(extra)
        return env

    def command(self, *args: str) -> list[str]:
        return [*TMDB, *args]

    def run(self, *args: str, timeout: float = 900, warehouse: bool = True, **extra_env: str) -> Run:
        """Run `tmdb ARGS` to the end. warehouse=False leaves the slot alone (for runs that must not
        get that far, while another run of this sandbox holds the slot)."""
        with self.in_slot() if warehouse else _nothing():
            started = time.monotonic()
            done = subprocess.run(
                self.command(*args),
                cwd=REPO_ROOT,
                env=self.env(**extra_env),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        return Run(args, done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    def start(self, *args: str, **extra_env: str) -> Background:
        """Start `tmdb ARGS` in its own process group (so that it and dbt can be killed together),
        its output going to a file. The caller holds `in_slot()` around it."""
        log = self.root / f"background-{time.monotonic_ns()}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                self.command(*args),
                cwd=REPO_ROOT,
                env=self.env(**extra_env),
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        return Background(args, proc, log, time.monotonic())

    @contextmanager
    def in_slot(self) -> Iterator[None]:
        """Move this sandbox's warehouse into the shared warehouse path for the duration, then back."""
        for suffix in WAREHOUSE_FILES:
            Path(f"{self.slot}{suffix}").unlink(missing_ok=True)  # left by a test that died midway
            kept = Path(f"{self.warehouse}{suffix}")
            if kept.exists():
                shutil.move(kept, f"{self.slot}{suffix}")
        try:
            yield
        finally:
            for suffix in WAREHOUSE_FILES:
                used = Path(f"{self.slot}{suffix}")
                if used.exists():
                    shutil.move(used, f"{self.warehouse}{suffix}")

    @contextmanager
    def slot_on(self, folder: Path) -> Iterator[None]:
        """Put the shared warehouse path's folder on `folder` (e.g. a small disk) for the duration."""
        link = self.slot.parent
        usual = link.readlink()
        swap = link.with_name(f"{link.name}.swap")
        swap.symlink_to(folder)
        swap.replace(link)
        try:
            yield
        finally:
            swap.symlink_to(usual)
            swap.replace(link)

    def copy_warehouse_to(self, destination: Path) -> Path:
        destination.parent.mkdir(parents=True, exist_ok=True)
        for suffix in WAREHOUSE_FILES:
            if Path(f"{self.warehouse}{suffix}").exists():
                shutil.copy2(f"{self.warehouse}{suffix}", f"{destination}{suffix}")
        return destination

    def data_dirs(self) -> list[Path]:
        return sorted(p for p in self.data_root.glob("*") if p.is_dir() and not p.is_symlink())

    def landing(self) -> Path:
        """The landing zone of the one data folder this sandbox has staged into."""
        dirs = [p for p in self.data_dirs() if (p / "landing").is_dir()]
        assert len(dirs) == 1, f"expected one data folder with a landing zone, found {dirs}"
        return dirs[0] / "landing"


@dataclass
class Background:
    """A pipeline command running in the background (Sandbox.start)."""

    args: tuple[str, ...]
    proc: subprocess.Popen[str]
    log: Path
    started: float

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float) -> Run:
        returncode = self.proc.wait(timeout=timeout)
        return Run(self.args, returncode, self.log.read_text(), "", time.monotonic() - self.started)

    def kill(self) -> None:
        """SIGKILL the command together with its children (dbt), and wait until every one of them is gone:
        a killed dbt holds the warehouse's lock until the kernel has finished tearing it down."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=60)
        wait_until(lambda: not live_group_members(self.proc.pid), 60, "the killed processes to exit")


def live_group_members(group: int) -> list[int]:
    """Processes of a process group with a thread still running: a killed process whose main thread is
    already a zombie keeps its files (and the warehouse's lock) until its last thread is gone."""
    members = []
    for task_stat in Path("/proc").glob("[0-9]*/task/[0-9]*/stat"):
        try:
            fields = task_stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited while we looked
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state not in ("Z", "X"):
            members.append(int(task_stat.parents[2].name))
    return sorted(set(members))


def warehouse_unlocked(path: Path) -> bool:
    """True when no other process holds the DuckDB file (a killed dbt may hold it for a moment)."""
    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.IOException as error:
        if "lock" in str(error).lower():
            return False
        raise
    return True


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def wait_until(condition: Any, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(interval)


def lock_is_free(path: Path) -> bool:
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


# ----------------------------------------------------------------------------------------------------
# The landing zone


def batches(landing: Path) -> list[str]:
    return sorted(p.name.removeprefix("batch=") for p in landing.glob("batch=*") if p.is_dir())


def manifest_rows(landing: Path) -> list[dict[str, Any]]:
    """Every manifest line of every batch, with its batch id."""
    rows = []
    for batch in batches(landing):
        for line in (landing / f"batch={batch}" / "manifest.ndjson").read_bytes().splitlines():
            rows.append({**orjson.loads(line), "batch_id": batch})
    return rows


def batch_summary(landing: Path, batch: str) -> dict[str, Any]:
    return orjson.loads((landing / f"batch={batch}" / "summary.json").read_bytes())


# ----------------------------------------------------------------------------------------------------
# The summary the CLI prints

_ENTITY_LINE = re.compile(
    r"^\s+(movies|series)\s+([\d,]+) files seen = ([\d,]+) staged \+ ([\d,]+) quarantined"
    r" \+ ([\d,]+) unchanged",
    re.MULTILINE,
)
_QUARANTINE_LINE = re.compile(r"^\s+quarantine\s+(.+?) \(table ", re.MULTILINE)
_BATCH_LINE = re.compile(r"^Staging\s+(?:batch (b\d{6})|nothing new)", re.MULTILINE)


def printed_counts(stdout: str) -> dict[str, dict[str, int]]:
    """{entity: {seen, staged, quarantined, unchanged}} from the closing summary."""
    counts = {}
    for entity, *numbers in _ENTITY_LINE.findall(stdout):
        values = [int(n.replace(",", "")) for n in numbers]
        counts[entity] = dict(zip(("seen", "staged", "quarantined", "unchanged"), values, strict=True))
    return counts


def printed_reasons(stdout: str) -> dict[str, int]:
    found = _QUARANTINE_LINE.search(stdout)
    if not found:
        return {}
    pairs = (part.rsplit(" ", 1) for part in found.group(1).split(", "))
    return {reason: int(count.replace(",", "")) for reason, count in pairs}


def printed_batch(stdout: str) -> str | None:
    found = _BATCH_LINE.search(stdout)
    assert found, f"no Staging line in the summary:\n{stdout[-3000:]}"
    return found.group(1)


# ----------------------------------------------------------------------------------------------------
# The warehouse


def query(warehouse: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def relations(warehouse: Path) -> dict[str, list[tuple[str, str]]]:
    """{"schema.name": [(column, type), ...]} for every table and view, columns in order."""
    found: dict[str, list[tuple[str, str]]] = {}
    rows = query(
        warehouse,
        "select table_schema, table_name, column_name, data_type from information_schema.columns"
        " where table_catalog = current_database() order by table_schema, table_name, ordinal_position",
    )
    for schema, table, column, data_type in rows:
        found.setdefault(f"{schema}.{table}", []).append((column, data_type))
    return found


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _relation_sql(name: str) -> str:
    schema, table = name.split(".", 1)
    return f"{_quoted(schema)}.{_quoted(table)}"


def row_counts(warehouse: Path, schemas: tuple[str, ...] = LAYERS) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            name: (con.execute(f"select count(*) from {_relation_sql(name)}").fetchone() or (0,))[0]
            for name in relations(warehouse)
            if name.split(".", 1)[0] in schemas
        }


def duplicate_rows(warehouse: Path, schemas: tuple[str, ...] = LAYERS) -> dict[str, int]:
    """Relations holding two rows that are equal in everything but their load lineage, with how many extra
    rows."""
    found = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for name, columns in relations(warehouse).items():
            if name.split(".", 1)[0] not in schemas:
                continue
            names = [c for c, _ in columns]
            skipped = left_out(name, names)
            content = ", ".join(_quoted(c) for c in names if c not in skipped)
            (extra,) = con.execute(
                f"select count(*) - (select count(*) from (select distinct {content} from"
                f" {_relation_sql(name)})) from {_relation_sql(name)}"
            ).fetchone() or (0,)
            if extra:
                found[name] = extra
    return found


def working_relations(warehouse: Path) -> list[str]:
    return sorted(name for name in relations(warehouse) if WORKING_RELATION.search(name))
