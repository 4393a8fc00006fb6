"""The dbt targets the warehouse builds on, and what each needs before dbt starts.

`duckdb` (the default): one file, one writer. `spark`: dbt-spark in-process (tmdb_pipeline.warehouse.spark).
`spark-thrift`: dbt-spark through a Spark Thrift server, by default the local cluster of `make spark-cluster`
(tmdb_pipeline.warehouse.spark_thrift).
A target prepares a data folder for a build (refusing early, with a message, what would fail halfway),
gives dbt the settings it needs, and describes the warehouse's state for the build stamp.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Protocol

from tmdb_pipeline.errors import LockedError, UserError
from tmdb_pipeline.workspace import Workspace

NAMES = ("duckdb", "spark", "spark-thrift")
log = logging.getLogger(__name__)


class Target(Protocol):
    name: str

    def prepare(self, workspace: Workspace) -> None:
        """Everything a build on this target needs before dbt starts; a UserError says what is missing."""

    def env(self, workspace: Workspace) -> dict[str, str]:
        """Settings dbt needs on this target, besides the data folder's paths."""

    def state(self, workspace: Workspace) -> list[Any]:
        """What a build or a hand-run dbt command changes in the warehouse ([] when there is none)."""

    def failure_hint(self, workspace: Workspace, build_log: str) -> str | None:
        """A message for a failed build when its part of dbt's log shows a known cause."""

    def warehouse_label(self, workspace: Workspace) -> str:
        """Where the built tables are, for the summary."""


class DuckDB:
    name = "duckdb"

    def prepare(self, workspace: Workspace) -> None:
        _ensure_writable(workspace.warehouse.parent)
        _ensure_free(workspace.warehouse)

    def env(self, workspace: Workspace) -> dict[str, str]:
        return {}

    def state(self, workspace: Workspace) -> list[Any]:
        """The file's size and modification time: every write changes them."""
        try:
            stat = workspace.warehouse.stat()
        except OSError:
            return []
        return [stat.st_size, stat.st_mtime_ns]

    def failure_hint(self, workspace: Workspace, build_log: str) -> str | None:
        return None

    def warehouse_label(self, workspace: Workspace) -> str:
        return str(workspace.warehouse)


def _ensure_writable(folder: Path) -> None:
    """Refuse before dbt starts when the warehouse cannot be written, rather than fail halfway through."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"\0" * 1024 * 1024)
        probe.unlink()
    except OSError as error:
        raise UserError(
            f"Cannot write the warehouse folder {folder}: {error.strerror or error}. Free some disk "
            "space or fix the folder's permissions (or point TMDB_DUCKDB_PATH elsewhere), then run again. "
            "The warehouse was not touched."
        ) from None


def _ensure_free(warehouse: Path) -> None:
    """Fail fast, with the holder named, when another process has the DuckDB file open for writing. A file
    that is no DuckDB database at all (a build that died creating it, on a full disk) is set aside rather
    than refused: every table is rebuilt from the landing zone, which it never held."""
    if not warehouse.exists():
        return
    import duckdb

    try:
        duckdb.connect(str(warehouse)).close()
    except duckdb.IOException as error:
        if "not a valid DuckDB database file" in str(error):
            _set_aside(warehouse)
            return
        raise LockedError(
            f"The warehouse {warehouse} is locked by another process: {str(error).splitlines()[0]}\n"
            "Close that process (a DuckDB shell, a notebook, a BI tool or another dbt run), then run again."
        ) from None


def _set_aside(warehouse: Path) -> None:
    """Rename the unreadable file (and its write-ahead log) to `.damaged-<time>-<name>`, never delete it."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for path in (warehouse, warehouse.with_name(f"{warehouse.name}.wal")):
        if path.exists():
            path.rename(path.with_name(f".damaged-{stamp}-{path.name}"))
    log.warning(
        "The warehouse %s was not a DuckDB database (a build that died creating it); it is kept as "
        ".damaged-%s-%s and the warehouse is rebuilt from the landing zone.",
        warehouse,
        stamp,
        warehouse.name,
    )


def for_name(name: str) -> Target:
    if name == "duckdb":
        return DuckDB()
    if name == "spark":
        from tmdb_pipeline.warehouse.spark import Spark

        return Spark()
    if name == "spark-thrift":
        from tmdb_pipeline.warehouse.spark_thrift import SparkThrift

        return SparkThrift()
    raise UserError(f"Unknown target {name!r}: use one of {', '.join(NAMES)}.")
