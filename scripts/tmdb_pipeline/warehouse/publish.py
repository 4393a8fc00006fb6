"""Write-audit-publish: after a green build, the marts are published as Parquet files for readers.

Readers (the dashboard, notebooks, a BI tool, the ML exposure) read the published files, never the warehouse
file: a DuckDB file has one writer and locks out readers while it is built, and a reader holding it open
blocks the build. Published files are never changed once written, so reading never blocks a build and a
build never breaks a reader.

Layout, under `<data dir>/publish/`:

    <version>/                 one folder per publish; version = UTC time, sortable (20250101T120000.000000Z)
        <relation>.parquet     one file per published relation (every table of the marts schema)
        manifest.json          published_at, built_at, target, source, dataset, dbt version, batches,
                               per relation its file, rows and columns, and the build's tests
    latest -> <version>        what readers open; swapped atomically
    .tmp-<pid>/                a publish being written (a killed one's is removed by the next publish)

A publish writes its version into `.tmp-<pid>/`, fsyncs every file, renames the folder to its version name
and then replaces `latest` through a temporary symlink and a rename: a reader sees the old version or the
new one, never a part. The previous version is kept (a reader may still be reading it); older ones are
deleted. A failed publish raises PublishError: the build that made the warehouse stands, and the last
published version with it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.processes import is_alive
from tmdb_pipeline.workspace import Workspace

LATEST = "latest"
MANIFEST = "manifest.json"
TMP_PREFIX = ".tmp-"
# The schema whose tables are published: the marts, denormalised for readers.
PUBLISHED_SCHEMA = "marts"
# Versions kept: the new one and the one before it, which a reader that resolved `latest` earlier may read.
KEEP_VERSIONS = 2
# The run history's published snapshots (tmdb_pipeline.monitoring) sit beside the versions, never pruned here.
HISTORY = "history"


class PublishError(UserError):
    """Publishing failed; the last published version is untouched. The message says what to do."""


@dataclass
class PublishResult:
    version: str
    folder: Path  # <data dir>/publish/<version>
    latest: Path  # <data dir>/publish/latest
    built_at: str
    relations: dict[str, int] = field(default_factory=dict)  # relation -> rows


def latest_published(workspace: Workspace) -> Path | None:
    """The version folder `latest` points at (resolved once: a reader keeps it for a whole load), or None."""
    return resolve_published(workspace.publish_dir)


def resolve_published(folder: Path) -> Path | None:
    """A published version folder from a publish root (through `latest`) or from a version folder itself."""
    folder = Path(folder)
    if (folder / MANIFEST).is_file():
        return folder.resolve()
    link = folder / LATEST
    if link.is_symlink() or link.exists():
        version = link.resolve()
        if (version / MANIFEST).is_file():
            return version
    return None


def is_of_warehouse(workspace: Workspace, target: str) -> bool:
    """Whether `latest` was published from the warehouse as it is now. A publish cut off after a green build
    (killed, a full disk) leaves the version before as `latest`, while the warehouse holds the newer build."""
    version = latest_published(workspace)
    if version is None:
        return False
    try:
        manifest = read_manifest(version)
    except (OSError, ValueError):
        return False
    return manifest.get("target") == target and manifest.get("warehouse_state") == _warehouse_state(
        workspace, target
    )


def _warehouse_state(workspace: Workspace, target: str) -> Any:
    """The target's own record of the warehouse's state (the build stamp's), as JSON reads it back. A Spark
    target's names its table folders only, which every build keeps: the newest table file's time is added."""
    from tmdb_pipeline.warehouse.targets import for_name

    state: Any = for_name(target).state(workspace)
    if target != "duckdb":
        newest = 0
        with contextlib.suppress(OSError, PublishError):
            files = _spark_tables_dir(workspace, target).glob("*/*/*.parquet")
            newest = max((f.stat().st_mtime_ns for f in files), default=0)
        state = [state, newest]
    return json.loads(json.dumps(state))


def read_manifest(version_folder: Path) -> dict[str, Any]:
    return json.loads((version_folder / MANIFEST).read_text(encoding="utf-8"))


def publish(
    workspace: Workspace,
    *,
    target: str = "duckdb",
    source_label: str | None = None,
    source_kind: str | None = None,
    tests: dict[str, Any] | None = None,
    built_at: dt.datetime | None = None,
) -> PublishResult:
    """Publish every table of the marts schema of the warehouse just built, atomically.

    On DuckDB the warehouse file is read on a read-only connection; on Spark the tables' parquet folders
    (`<data dir>/spark/warehouse`). Either way DuckDB writes the files, rows sorted, so they are the same
    whichever engine built them. source_label / source_kind default to what the landing zone recorded.
    tests: {passed, failed, warned, skipped, skipped_reason}.
    """
    import duckdb

    warehouse = workspace.warehouse
    root = workspace.publish_dir
    now = dt.datetime.now(dt.UTC)
    version = now.strftime("%Y%m%dT%H%M%S.%fZ")
    tmp = root / f"{TMP_PREFIX}{os.getpid()}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        _remove_stale_tmp(root)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        con = duckdb.connect()
        try:
            if target == "duckdb":
                con.execute(f"attach {_literal(str(warehouse))} as warehouse (read_only)")
                sources = {
                    name: f"warehouse.{PUBLISHED_SCHEMA}.{_ident(name)}"
                    for (name,) in con.execute(
                        "select table_name from information_schema.tables where table_catalog = 'warehouse'"
                        " and table_schema = ? and table_type = 'BASE TABLE' order by table_name",
                        [PUBLISHED_SCHEMA],
                    ).fetchall()
                }
                built = dt.datetime.fromtimestamp(warehouse.stat().st_mtime, dt.UTC)
            else:  # Spark: the same tables as parquet folders
                sources, built = _spark_sources(_spark_tables_dir(workspace, target))
            if not sources:
                raise PublishError(f"the warehouse has no {PUBLISHED_SCHEMA} tables to publish")
            relations = {
                name: _export(con, relation, tmp / f"{name}.parquet") for name, relation in sources.items()
            }
        finally:
            con.close()
        built_at = _iso(built_at or built)
        manifest = {
            "version": version,
            "published_at": _iso(now),
            "built_at": built_at,
            "target": target,
            "source": _source(workspace, source_label, source_kind),
            "dbt_version": _package_version("dbt-core"),
            "batches": _batches(workspace),
            "relations": relations,
            "tests": tests or _unknown_tests(),
            "warehouse_state": _warehouse_state(workspace, target),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        for child in tmp.iterdir():
            _fsync(child, os.O_RDONLY)
        _fsync(tmp, os.O_RDONLY | os.O_DIRECTORY)
        folder = root / version
        os.rename(tmp, folder)
        _fsync(root, os.O_RDONLY | os.O_DIRECTORY)
        link_tmp = root / f".{LATEST}-{os.getpid()}"
        link_tmp.unlink(missing_ok=True)
        link_tmp.symlink_to(version)
        os.replace(link_tmp, root / LATEST)
        _fsync(root, os.O_RDONLY | os.O_DIRECTORY)
    except (OSError, duckdb.Error) as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PublishError(
            f"could not publish into {root}: {error}. The last published version is unchanged; fix the cause"
            " (disk space, permissions) and run again."
        ) from None
    _prune(root, keep=version)
    return PublishResult(
        version=version,
        folder=folder,
        latest=root / LATEST,
        built_at=built_at,
        relations={name: info["rows"] for name, info in relations.items()},
    )


def _export(con: Any, relation: str, path: Path) -> dict[str, Any]:
    """One relation into one Parquet file, rows sorted (the same bytes for the same rows); its description."""
    described = con.execute(f"describe select * from {relation}").fetchall()
    columns = [(name, _published_type(kind)) for name, kind, *_ in described]
    select = ", ".join(
        f"cast({_ident(name)} as {kind}) as {_ident(name)}" if kind != original else _ident(name)
        for (name, kind), (_, original, *_) in zip(columns, described, strict=True)
    )
    con.execute(
        f"copy (select {select} from {relation} order by all) to {_literal(str(path))}"
        " (format parquet, compression zstd)"
    )
    (rows,) = con.execute(f"select count(*) from read_parquet({_literal(str(path))})").fetchone()
    return {
        "file": path.name,
        "rows": int(rows),
        "columns": dict(columns),
    }


def _published_type(kind: str) -> str:
    """Types as the DuckDB warehouse has them: Spark writes timestamps as UTC instants (TIMESTAMPTZ here)."""
    return "TIMESTAMP" if kind.upper() in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ") else kind


def _spark_tables_dir(workspace: Workspace, target: str) -> Path:
    """The folder of a Spark target's tables: in-process Spark's, or the local cluster's."""
    if target != "spark-thrift":
        return workspace.spark_dir / "warehouse"
    from tmdb_pipeline.warehouse import spark_thrift

    folder = spark_thrift.local_tables_dir(workspace)
    if folder is None:
        raise PublishError(
            "the tables are on another Spark Thrift server (TMDB_SPARK_THRIFT_HOST), whose files this machine"
            " cannot read: publish from a machine that can, or build on the local cluster"
        )
    return folder


def _spark_sources(spark_warehouse: Path) -> tuple[dict[str, str], dt.datetime]:
    schema_dir = spark_warehouse / f"{PUBLISHED_SCHEMA}.db"
    tables = sorted(p for p in schema_dir.glob("*") if p.is_dir() and any(p.glob("*.parquet")))
    if not tables:
        raise PublishError(f"no Spark tables with parquet files under {schema_dir}")
    newest = max(f.stat().st_mtime for table in tables for f in table.glob("*.parquet"))
    sources = {table.name: f"read_parquet({_literal(str(table / '*.parquet'))})" for table in tables}
    return sources, dt.datetime.fromtimestamp(newest, dt.UTC)


def _source(workspace: Workspace, label: str | None, kind: str | None) -> dict[str, Any]:
    """What the data is: the landing zone's own record of it, unless the caller says."""
    name = workspace.name
    kind = kind or ("sample" if name == "sample" else "kaggle" if name == "kaggle" else "folder")
    summaries = _batch_summaries(workspace)
    last = summaries[-1] if summaries else {}
    label = label or last.get("source") or name
    dataset = (
        "edgartanaka1/tmdb-movies-and-series version 1"
        if kind == "kaggle"
        else label.removeprefix("folder ")
        if kind == "folder"
        else label
    )
    return {"kind": kind, "label": label, "dataset": dataset, "data_dir": name}


def _batch_summaries(workspace: Workspace) -> list[dict[str, Any]]:
    found = []
    for summary in sorted(workspace.landing.glob("batch=*/summary.json")):
        with contextlib.suppress(OSError, ValueError):
            found.append(json.loads(summary.read_text(encoding="utf-8")))
    return found


def _batches(workspace: Workspace) -> list[dict[str, Any]]:
    """Per staging batch: when, and its files seen = staged + quarantined + unchanged per entity."""
    return [
        {
            "batch_id": s.get("batch_id"),
            "source": s.get("source"),
            "finished_at": s.get("finished_at"),
            "entities": s.get("entities", {}),
            "reasons": s.get("reasons", {}),
        }
        for s in _batch_summaries(workspace)
    ]


def _unknown_tests() -> dict[str, Any]:
    return {
        "passed": None,
        "failed": None,
        "warned": None,
        "skipped": None,
        "skipped_reason": "not re-run: the build was skipped, the last green build's tests stand",
    }


def _remove_stale_tmp(root: Path) -> None:
    """`.tmp-<pid>` folders of publishes that were killed (their process is gone)."""
    for stale in root.glob(f"{TMP_PREFIX}*"):
        pid = stale.name.removeprefix(TMP_PREFIX)
        if pid.isdigit() and int(pid) != os.getpid() and is_alive(int(pid)):
            continue
        shutil.rmtree(stale, ignore_errors=True)
    for stale_link in root.glob(f".{LATEST}-*"):
        stale_link.unlink(missing_ok=True)


def published_versions(root: Path) -> list[Path]:
    """The published versions under `root` (the publish folder), oldest first: neither `latest`, nor a
    half-written dot folder, nor the run history published beside them."""
    return sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and not p.is_symlink() and not p.name.startswith(".") and p.name != HISTORY
    )


def _prune(root: Path, keep: str) -> None:
    """Keep the new version and the one before it; delete older versions. Never fails the publish."""
    older = [v.name for v in published_versions(root) if v.name < keep]
    for version in older[: max(0, len(older) - (KEEP_VERSIONS - 1))]:
        shutil.rmtree(root / version, ignore_errors=True)


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
