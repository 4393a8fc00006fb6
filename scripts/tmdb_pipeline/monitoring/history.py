"""The run history: an append-only store of every pipeline run, one folder per dbt invocation.

Layout, under `<data dir>/history/` (outside the warehouse: a full refresh or a fresh warehouse keeps it;
only `tmdb history clear` removes it):

    invocation=<invocation id>/   one run, written whole: one Parquet file per table below
    .tmp-<pid>-<id>/              a record being written (a killed one's is removed by the next record)

A record is written into a temporary folder, every file fsynced, then renamed to its invocation's name: a run
killed while it is recorded leaves the whole invocation or none of it. The invocation id is dbt's own
(run_results.json's metadata), so recording the same run again finds its folder and adds nothing.

The tables (after Elementary's dbt_invocations, dbt_run_results, elementary_test_results,
dbt_source_freshness_results and data_monitoring_metrics, trimmed to what this pipeline reads back):
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.processes import is_alive

log = logging.getLogger(__name__)

INVOCATION_PREFIX = "invocation="
TMP_PREFIX = ".tmp-"
REBUILD_COMMAND = "tmdb history rebuild"

# table -> column -> DuckDB type. Every file of a table has exactly these columns, in this order.
TABLES: dict[str, dict[str, str]] = {
    # one row per run: what ran, where, how it ended, and staging's accounting of the batch it built
    "invocations": {
        "invocation_id": "varchar",
        "origin": "varchar",  # make run | tmdb build | airflow | container
        "command": "varchar",  # dbt's command (build)
        "target": "varchar",
        "dbt_version": "varchar",
        "started_at": "timestamp",
        "completed_at": "timestamp",
        "elapsed_s": "double",
        "status": "varchar",  # success | failed
        "returncode": "integer",
        "nodes": "integer",
        "tests_passed": "integer",
        "tests_failed": "integer",
        "tests_warned": "integer",
        "tests_skipped": "integer",
        "published_version": "varchar",
        "batch_ids": "varchar",  # the staging batches first recorded by this run, comma-separated
        "anomalies": "integer",
    },
    # one row per step of the run (stage, build, freshness, publish, history): the "duration by step" chart
    "run_steps": {
        "invocation_id": "varchar",
        "step": "varchar",
        "duration_s": "double",
        "status": "varchar",
    },
    # one row per node dbt ran (models, seeds, snapshots, tests, unit tests): Elementary's dbt_run_results
    "node_results": {
        "node_execution_id": "varchar",  # <invocation id>.<unique id>
        "invocation_id": "varchar",
        "unique_id": "varchar",
        "name": "varchar",
        "resource_type": "varchar",
        "schema_name": "varchar",
        "materialization": "varchar",
        "status": "varchar",
        "execution_time_s": "double",
        "execute_started_at": "timestamp",
        "execute_completed_at": "timestamp",
        "rows_affected": "bigint",
        "message": "varchar",
    },
    # one row per data or unit test: Elementary's elementary_test_results
    "test_results": {
        "test_execution_id": "varchar",
        "invocation_id": "varchar",
        "test_unique_id": "varchar",
        "test_name": "varchar",
        "test_type": "varchar",  # generic | singular | unit
        "test_short_name": "varchar",  # not_null, unique, expect_..., the singular test's name
        "model_unique_id": "varchar",
        "column_name": "varchar",
        "severity": "varchar",
        "status": "varchar",  # pass | fail | warn | error | skipped
        "failures": "bigint",
        "message": "varchar",
    },
    # one row per source table `dbt source freshness` checked: Elementary's dbt_source_freshness_results
    "freshness_results": {
        "invocation_id": "varchar",
        "unique_id": "varchar",
        "source_name": "varchar",
        "table_name": "varchar",
        "max_loaded_at": "timestamp",
        "snapshotted_at": "timestamp",
        "age_s": "double",
        "status": "varchar",  # pass | warn | error | runtime error
        "warn_after_s": "double",
        "error_after_s": "double",
        "message": "varchar",
    },
    # measured figures, one per (table, metric, dimension): Elementary's data_monitoring_metrics. Row counts
    # of every model (metric row_count), staging's accounting (files_seen, files_staged, files_quarantined
    # by reason, table landing.<entity>)
    "metrics": {
        "invocation_id": "varchar",
        "full_table_name": "varchar",
        "metric_name": "varchar",
        "dimension": "varchar",
        "dimension_value": "varchar",
        "metric_value": "double",
        "measured_at": "timestamp",
    },
    # the published marts' columns (Elementary's schema_columns_snapshot): what the schema check compares
    "published_columns": {
        "invocation_id": "varchar",
        "published_version": "varchar",
        "relation": "varchar",
        "column_name": "varchar",
        "data_type": "varchar",
    },
    # what the checks found: volume, schema, freshness
    "anomalies": {
        "invocation_id": "varchar",
        "kind": "varchar",  # volume | schema | freshness
        "relation": "varchar",
        "column_name": "varchar",
        "severity": "varchar",  # warn | error
        "observed": "double",
        "expected_low": "double",
        "expected_high": "double",
        "detail": "varchar",
        "detected_at": "timestamp",
    },
}
__doc__ += "".join(f"\n    {name}: {', '.join(columns)}\n" for name, columns in TABLES.items())


class HistoryError(UserError):
    """The history cannot be read; the message names what is wrong and the command that rebuilds it."""


@dataclass
class Record:
    """One run's rows, table by table, ready to be written."""

    invocation_id: str
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {name: [] for name in TABLES})

    def add(self, table: str, **row: Any) -> None:
        unknown = set(row) - set(TABLES[table])
        if unknown:
            raise ValueError(f"{table} has no column {', '.join(sorted(unknown))}")
        self.rows[table].append(row)


@dataclass(frozen=True)
class History:
    """The store of one data folder."""

    folder: Path

    def invocation_dir(self, invocation_id: str) -> Path:
        return self.folder / f"{INVOCATION_PREFIX}{invocation_id}"

    def has(self, invocation_id: str) -> bool:
        return self.invocation_dir(invocation_id).is_dir()

    def invocations(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if p.name.startswith(INVOCATION_PREFIX) and p.is_dir())

    def write(self, record: Record) -> bool:
        """Write one invocation atomically; False (and nothing written) when it is recorded already."""
        if not _safe_id(record.invocation_id):
            raise HistoryError(f"not an invocation id dbt writes: {record.invocation_id!r}")
        final = self.invocation_dir(record.invocation_id)
        if final.is_dir():
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        self._remove_stale_tmp()
        tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=self.folder))
        try:
            with duckdb.connect() as con:
                for table, columns in TABLES.items():
                    _write_table(con, tmp, table, columns, record.rows[table])
            for child in tmp.iterdir():
                _fsync(child, os.O_RDONLY)
            _fsync(tmp, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.rename(tmp, final)
            except OSError:
                if final.is_dir():  # recorded meanwhile by another process: same invocation, nothing to add
                    return False
                raise
            _fsync(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return True

    def check(self) -> list[tuple[Path, str]]:
        """The invocation folders that cannot be read whole, each with what is wrong."""
        broken = []
        with duckdb.connect() as con:
            for folder in self.invocations():
                problem = _problem(con, folder)
                if problem:
                    broken.append((folder, problem))
        return broken

    def require_readable(self) -> None:
        broken = self.check()
        if broken:
            where, what = broken[0]
            raise HistoryError(
                f"The run history in {self.folder} is damaged: {where.name} {what}"
                f"{f' (and {len(broken) - 1} more)' if len(broken) > 1 else ''}. Run `{REBUILD_COMMAND}`: it"
                " sets aside what cannot be read and keeps every run that can. The pipeline itself runs on."
            )

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """SQL over the whole history, `{table}` standing for every invocation's file of that table. Read
        optimistically, in one query; only when it fails is every file checked, to name the damage."""
        try:
            with duckdb.connect() as con:
                _views(con, self.invocations())
                return con.execute(sql.format(**{t: t for t in TABLES}), list(params)).fetchall()
        except duckdb.Error as error:
            self._explain(error)
            raise  # unreachable: _explain always raises

    def export(self, out: Path) -> None:
        """Every table of the whole history as one Parquet file each in `out` (the published snapshot)."""
        out.mkdir(parents=True, exist_ok=True)
        try:
            with duckdb.connect() as con:
                _views(con, self.invocations())
                for table in TABLES:
                    target = _literal(str(out / f"{table}.parquet"))
                    con.execute(f"copy (select * from {table} order by all) to {target} (format parquet)")
        except duckdb.Error as error:
            self._explain(error)

    def _explain(self, error: duckdb.Error) -> None:
        self.require_readable()
        raise HistoryError(
            f"The run history in {self.folder} could not be read ({str(error).splitlines()[0]}). Run"
            f" `{REBUILD_COMMAND}`."
        ) from None

    def rebuild(self) -> tuple[int, list[Path]]:
        """Set aside what cannot be read (renamed `.damaged-...`, never deleted) and the leftovers of killed
        records; returns (invocations kept, folders set aside)."""
        self._remove_stale_tmp(everyone=True)
        aside = []
        for folder, problem in self.check():
            target = folder.with_name(f".damaged-{folder.name}")
            shutil.rmtree(target, ignore_errors=True)
            folder.rename(target)
            log.warning("history: set aside %s: %s", folder.name, problem)
            aside.append(target)
        return len(self.invocations()), aside

    def clear(self) -> int:
        """Remove the whole history; returns how many invocations it held."""
        count = len(self.invocations())
        shutil.rmtree(self.folder, ignore_errors=True)
        return count

    def _remove_stale_tmp(self, everyone: bool = False) -> None:
        for stale in self.folder.glob(f"{TMP_PREFIX}*"):
            pid = stale.name.removeprefix(TMP_PREFIX).split("-", 1)[0]
            if not everyone and pid.isdigit() and (int(pid) == os.getpid() or is_alive(int(pid))):
                continue
            shutil.rmtree(stale, ignore_errors=True)


def _views(con: duckdb.DuckDBPyConnection, folders: list[Path]) -> None:
    for table, columns in TABLES.items():
        files = [str(folder / f"{table}.parquet") for folder in folders]
        if files:
            listed = ", ".join(_literal(f) for f in files)
            con.execute(
                f"create view {table} as select * from read_parquet([{listed}], hive_partitioning = false)"
            )
        else:
            typed = ", ".join(f"null::{kind} as {name}" for name, kind in columns.items())
            con.execute(f"create view {table} as select {typed} where false")


def _problem(con: duckdb.DuckDBPyConnection, folder: Path) -> str:
    for table, columns in TABLES.items():
        path = folder / f"{table}.parquet"
        if not path.is_file():
            return f"has no {path.name}"
        try:
            found = [
                row[0]
                for row in con.execute(
                    f"describe select * from read_parquet({_literal(str(path))}, hive_partitioning = false)"
                ).fetchall()
            ]
        except duckdb.Error as error:
            return f"has an unreadable {path.name} ({str(error).splitlines()[0]})"
        if found != list(columns):
            return f"has {path.name} with other columns than this version of the project writes"
    return ""


def _write_table(
    con: duckdb.DuckDBPyConnection, folder: Path, table: str, columns: Mapping[str, str], rows: list[dict]
) -> None:
    out = _literal(str(folder / f"{table}.parquet"))
    typed = ", ".join(f"{_ident(name)}::{kind} as {_ident(name)}" for name, kind in columns.items())
    if not rows:
        empty = ", ".join(f"null::{kind} as {_ident(name)}" for name, kind in columns.items())
        con.execute(f"copy (select {empty} where false) to {out} (format parquet)")
        return
    ndjson = folder / f"{table}.ndjson"
    with ndjson.open("wb") as written:
        for row in rows:
            written.write(orjson.dumps({name: _plain(row.get(name)) for name in columns}) + b"\n")
    declared = "{" + ", ".join(f"{_literal(name)}: 'varchar'" for name in columns) + "}"
    con.execute(
        f"copy (select {typed} from read_json({_literal(str(ndjson))}, format='newline_delimited',"
        f" columns={declared})) to {out} (format parquet, compression zstd)"
    )
    ndjson.unlink()


def _plain(value: Any) -> Any:
    """Every value as text for the NDJSON hop (the cast to the column's type is DuckDB's)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
        return value.isoformat(sep=" ")
    return str(value)


def _safe_id(invocation_id: str) -> bool:
    return bool(invocation_id) and all(c.isalnum() or c in "-_." for c in invocation_id)


def _fsync(path: Path, flags: int) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
