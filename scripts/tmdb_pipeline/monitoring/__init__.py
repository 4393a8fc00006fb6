"""Watching the pipeline: every run recorded, checked and reported, from dbt's artifacts after the run.

`record_run()` is one call after a run (`make run`, `tmdb build`, the Airflow DAG's last task, the
container): it reads the run's dbt artifacts (artifacts), appends the run to the data folder's history
(history), compares each table's size with its own past and each published mart's columns with the
previous publish (anomalies), publishes the history beside the marts for the dashboard, writes the run's
figures for Prometheus (metrics) and posts an alert when the run failed or something looks wrong (alerts).
Source freshness (freshness) runs just before it, as a dbt command of its own.

Nothing here can fail the run it watches: a damaged history, a missing artifact or an unreachable webhook
is logged with what to do, and the run's outcome stands.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.monitoring import alerts, anomalies, artifacts, freshness, metrics
from tmdb_pipeline.monitoring.anomalies import Anomaly
from tmdb_pipeline.monitoring.history import History, HistoryError, Record
from tmdb_pipeline.workspace import Workspace

log = logging.getLogger(__name__)

ORIGIN_ENV = "TMDB_RUN_ORIGIN"  # who ran it: the container and the DAG set it
KEEP_SNAPSHOTS = 2
VOLUME_METRICS = ("row_count", "files_seen")


@dataclass
class RunContext:
    """What the caller knows about the run beyond dbt's artifacts."""

    workspace: Workspace
    target: str
    target_dir: Path  # where dbt left run_results.json and manifest.json
    origin: str = "make run"
    build_ran: bool = True  # False: the build was skipped (nothing new), only freshness ran
    returncode: int | None = None  # the run's exit code; None: from the run results
    steps: dict[str, float] = field(default_factory=dict)  # step -> seconds
    sources_file: Path | None = None  # sources.json of this run's `dbt source freshness`
    staging: dict[str, dict[str, int]] | None = None  # entity -> seen/staged/quarantined/unchanged
    reasons: dict[str, int] | None = None  # quarantine reason -> files, of this run's staging
    published_version: Path | None = None  # the publish folder this run made, if it published


@dataclass
class Recorded:
    invocation_id: str = ""
    written: bool = False  # False: recorded before (or could not be)
    anomalies: list[Anomaly] = field(default_factory=list)
    freshness: list[dict[str, Any]] = field(default_factory=list)
    metrics_file: Path | None = None
    alert_sent: bool = False
    problem: str = ""  # why the history could not be recorded or read, with the fix
    elapsed_s: float = 0.0


def record_run(run: RunContext) -> Recorded:
    """Record, check and report one run. Never raises for a problem of its own: it is logged and returned."""
    started = time.monotonic()
    outcome = Recorded()
    try:
        _record(run, outcome, started)
    except (UserError, OSError) as error:
        outcome.problem = str(error)
        log.warning("run history: %s", error)
    outcome.elapsed_s = time.monotonic() - started
    return outcome


def _record(run: RunContext, outcome: Recorded, started: float) -> None:
    found = artifacts.read(run.target_dir, run.sources_file) if run.build_ran else _freshness_only(run)
    outcome.invocation_id = found.invocation_id
    store = History(run.workspace.history_dir)
    if store.has(found.invocation_id):
        log.info("run history: invocation %s is recorded already; nothing added", found.invocation_id)
        return
    past = _past(store, outcome)
    record = Record(found.invocation_id)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    _nodes(record, found)
    outcome.freshness = _freshness(record, found)
    rows = _row_counts(run)
    staging = _staging(record, run, past, now)
    for relation, count in rows.items():
        record.add(
            "metrics",
            invocation_id=found.invocation_id,
            full_table_name=relation,
            metric_name="row_count",
            metric_value=count,
            measured_at=now,
        )
    current_columns = _published_columns(record, run)
    found_anomalies = anomalies.volume(rows, past["row_count"]) + anomalies.volume(
        {f"{t} files seen": v for t, v in staging.items()},
        {f"{t} files seen": v for t, v in past["files_seen"].items()},
        what="files",
    )
    if current_columns is not None and run.published_version is not None:
        previous = _previous_publish(run.published_version)
        if previous is not None:
            found_anomalies += anomalies.schema(previous, current_columns)
    found_anomalies += [
        Anomaly(
            "freshness",
            f["source"],
            f"newest load {_age(f['age_s'])} old ({f['status']})",
            severity="error" if f["status"] != "warn" else "warn",
            observed=f["age_s"],
        )
        for f in outcome.freshness
        if f["status"] not in ("pass", "")
    ]
    outcome.anomalies = found_anomalies
    for anomaly in found_anomalies:
        record.add(
            "anomalies",
            invocation_id=found.invocation_id,
            kind=anomaly.kind,
            relation=anomaly.relation,
            column_name=anomaly.column,
            severity=anomaly.severity,
            observed=anomaly.observed,
            expected_low=anomaly.expected_low,
            expected_high=anomaly.expected_high,
            detail=anomaly.detail,
            detected_at=now,
        )
    tests = _tests(found)
    success = (run.returncode if run.returncode is not None else _returncode(found)) == 0
    step_seconds = dict(run.steps)
    _invocation(record, run, found, tests, success, staging_batches=past["new_batches"], now=now)
    # the history step's own time so far (reading, checking); writing and publishing follow
    step_seconds["history"] = time.monotonic() - started
    for step, seconds in step_seconds.items():
        record.add(
            "run_steps",
            invocation_id=found.invocation_id,
            step=step,
            duration_s=round(seconds, 3),
            status="success" if success or step != "build" else "failed",
        )
    outcome.written = store.write(record)
    if outcome.written:
        try:
            publish_history(store, run.workspace.published_history_dir)
        except (HistoryError, OSError) as error:
            log.warning("run history: recorded, but not published for the dashboard: %s", error)
    last_success = time.time() if success else past["last_success"]
    outcome.metrics_file = metrics.write(
        metrics.RunFigures(
            data_dir=run.workspace.name,
            target=run.target,
            success=success,
            finished_at=time.time(),
            last_success_at=last_success,
            steps=step_seconds,
            rows=rows,
            tests=tests,
            files={
                (entity, what): n
                for entity, counts in (run.staging or {}).items()
                for what, n in counts.items()
            },
            quarantined=dict(run.reasons or {}),
            freshness={f["source"]: (f["age_s"], f["status"]) for f in outcome.freshness},
            anomalies={
                kind: sum(a.kind == kind for a in found_anomalies)
                for kind in ("volume", "schema", "freshness")
            },
        ),
        metrics.metrics_file(run.workspace.root),
    )
    outcome.alert_sent = _alert(run, found, success, tests, found_anomalies)


def _freshness_only(run: RunContext) -> artifacts.Artifacts:
    """A run whose build was skipped: its record is its `dbt source freshness` invocation."""
    sources = artifacts._json(run.sources_file) if run.sources_file else None
    if not sources:
        raise artifacts.ArtifactsError(
            "nothing to record: the build was skipped and source freshness left no sources.json"
        )
    metadata = dict(sources.get("metadata") or {})
    return artifacts.Artifacts(
        run_results={
            "metadata": metadata,
            "results": [],
            "args": {"which": "source freshness"},
            "elapsed_time": sources.get("elapsed_time"),
        },
        sources=sources,
    )


def _past(store: History, outcome: Recorded) -> dict[str, Any]:
    """What the checks compare with: each table's past counts (oldest first), the batches recorded, the
    last green run. A history that cannot be read leaves them empty (and says how to rebuild it)."""
    past: dict[str, Any] = {"row_count": {}, "files_seen": {}, "batches": set(), "last_success": None}
    try:
        rows = store.query(
            "select m.metric_name, m.full_table_name, m.metric_value from {metrics} m"
            " join {invocations} i using (invocation_id) where m.metric_name in ('row_count', 'files_seen')"
            " and m.dimension is null order by i.started_at"
        )
        for metric, table, value in rows:
            past[metric].setdefault(table, []).append(value)
        for (ids,) in store.query("select batch_ids from {invocations} where batch_ids is not null"):
            past["batches"].update(ids.split(","))
        (last,) = store.query("select max(epoch(completed_at)) from {invocations} where status = 'success'")[
            0
        ]
        past["last_success"] = last
    except HistoryError as error:
        outcome.problem = str(error)
        log.warning("run history: %s", error)
    past["new_batches"] = []
    return past


def _nodes(record: Record, found: artifacts.Artifacts) -> None:
    for result in found.results:
        unique_id = str(result.get("unique_id", ""))
        node = found.nodes.get(unique_id, {})
        resource = unique_id.split(".", 1)[0]
        execute_started, execute_completed = artifacts.timing(result, "execute")
        rows_affected = (result.get("adapter_response") or {}).get("rows_affected")
        message = (result.get("message") or "")[:500] or None
        record.add(
            "node_results",
            node_execution_id=f"{found.invocation_id}.{unique_id}",
            invocation_id=found.invocation_id,
            unique_id=unique_id,
            name=node.get("name") or unique_id.rsplit(".", 1)[-1],
            resource_type=resource,
            schema_name=node.get("schema"),
            materialization=(node.get("config") or {}).get("materialized"),
            status=result.get("status"),
            execution_time_s=result.get("execution_time"),
            execute_started_at=execute_started,
            execute_completed_at=execute_completed,
            rows_affected=rows_affected if isinstance(rows_affected, int) and rows_affected >= 0 else None,
            message=message,
        )
        if resource in ("test", "unit_test"):
            metadata = node.get("test_metadata") or {}
            depends = (node.get("depends_on") or {}).get("nodes") or []
            kind = "unit" if resource == "unit_test" else "generic" if metadata else "singular"
            record.add(
                "test_results",
                test_execution_id=f"{found.invocation_id}.{unique_id}",
                invocation_id=found.invocation_id,
                test_unique_id=unique_id,
                test_name=node.get("name") or unique_id.rsplit(".", 1)[-1],
                test_type=kind,
                test_short_name=metadata.get("name") or node.get("name"),
                model_unique_id=node.get("attached_node") or (depends[0] if depends else None),
                column_name=node.get("column_name") or (metadata.get("kwargs") or {}).get("column_name"),
                severity=(node.get("config") or {}).get("severity"),
                status=result.get("status"),
                failures=result.get("failures"),
                message=message,
            )


def _freshness(record: Record, found: artifacts.Artifacts) -> list[dict[str, Any]]:
    checks = []
    for result in (found.sources or {}).get("results") or []:
        unique_id = str(result.get("unique_id", ""))
        source_name, table_name = [*unique_id.split(".")[-2:], "", ""][:2]
        criteria = result.get("criteria") or {}
        status = str(result.get("status") or "")
        age = result.get("max_loaded_at_time_ago_in_s")
        record.add(
            "freshness_results",
            invocation_id=found.invocation_id,
            unique_id=unique_id,
            source_name=source_name,
            table_name=table_name,
            max_loaded_at=artifacts.timestamp(result.get("max_loaded_at")),
            snapshotted_at=artifacts.timestamp(result.get("snapshotted_at")),
            age_s=age,
            status=status,
            warn_after_s=artifacts.duration_s(criteria.get("warn_after")),
            error_after_s=artifacts.duration_s(criteria.get("error_after")),
            message=(result.get("message") or "")[:500] or None,
        )
        checks.append({"source": f"{source_name}.{table_name}", "status": status, "age_s": age})
    return checks


def _row_counts(run: RunContext) -> dict[str, float]:
    """Rows of every table: from DuckDB's own table statistics (no scan), else the published marts."""
    if run.target == "duckdb" and run.workspace.warehouse.is_file():
        import duckdb

        try:
            with duckdb.connect(str(run.workspace.warehouse), read_only=True) as con:
                return {
                    f"{schema}.{name}": float(rows)
                    for schema, name, rows in con.execute(
                        "select schema_name, table_name, estimated_size from duckdb_tables()"
                        " where not internal and not temporary order by all"
                    ).fetchall()
                }
        except duckdb.Error as error:
            log.warning("run history: row counts not read from the warehouse (%s)", error)
            return {}
    if run.published_version is not None:
        manifest = artifacts._json(run.published_version / "manifest.json") or {}
        return {
            f"marts.{name}": float(info["rows"]) for name, info in (manifest.get("relations") or {}).items()
        }
    return {}


def _staging(record: Record, run: RunContext, past: dict[str, Any], now: dt.datetime) -> dict[str, float]:
    """Staging's accounting as metrics of landing.<entity>: this run's own (make run), else the batches the
    landing zone holds that no recorded run has counted yet (the DAG stages in a task of its own).
    Returns files seen per landing table, the volume check's input."""
    counts: dict[str, dict[str, int]] = {}
    reasons: dict[str, int] = {}
    if run.staging is not None:
        counts, reasons = run.staging, dict(run.reasons or {})
    else:
        for summary in _batch_summaries(run.workspace):
            batch = str(summary.get("batch_id"))
            if batch in past["batches"]:
                continue
            past["new_batches"].append(batch)
            counts = {
                e: {k: int(v) for k, v in c.items()} for e, c in (summary.get("entities") or {}).items()
            }
            reasons = {str(k): int(v) for k, v in (summary.get("reasons") or {}).items()}
        run.staging, run.reasons = counts or None, reasons or None
    if run.staging is not None and run.workspace.batches():
        newest = run.workspace.batches()[-1]
        if newest not in past["batches"]:
            past["new_batches"].append(newest)
    for entity, by_outcome in counts.items():
        for what, files in by_outcome.items():
            record.add(
                "metrics",
                invocation_id=record.invocation_id,
                full_table_name=f"landing.{entity}",
                metric_name=f"files_{what}",
                metric_value=files,
                measured_at=now,
            )
    for reason, files in reasons.items():
        record.add(
            "metrics",
            invocation_id=record.invocation_id,
            full_table_name="landing",
            metric_name="files_quarantined",
            dimension="reason",
            dimension_value=reason,
            metric_value=files,
            measured_at=now,
        )
    return {f"landing.{entity}": float(c.get("seen", 0)) for entity, c in counts.items()}


def _batch_summaries(workspace: Workspace) -> list[dict[str, Any]]:
    found = []
    for batch in workspace.batches():
        summary = artifacts._json(workspace.landing / f"batch={batch}" / "summary.json")
        if summary:
            found.append(summary)
    return found


def _published_columns(record: Record, run: RunContext) -> dict[str, dict[str, str]] | None:
    if run.published_version is None:
        return None
    manifest = artifacts._json(run.published_version / "manifest.json") or {}
    columns = {
        name: dict(info.get("columns") or {}) for name, info in (manifest.get("relations") or {}).items()
    }
    for relation, described in columns.items():
        for column, kind in described.items():
            record.add(
                "published_columns",
                invocation_id=record.invocation_id,
                published_version=run.published_version.name,
                relation=relation,
                column_name=column,
                data_type=kind,
            )
    return columns


def _previous_publish(version: Path) -> dict[str, dict[str, str]] | None:
    """The columns of the publish before `version` (the publish folder keeps it), or None."""
    earlier = sorted(
        p
        for p in version.parent.iterdir()
        if p.is_dir() and not p.is_symlink() and p.name < version.name and (p / "manifest.json").is_file()
    )
    if not earlier:
        return None
    manifest = artifacts._json(earlier[-1] / "manifest.json") or {}
    return {name: dict(info.get("columns") or {}) for name, info in (manifest.get("relations") or {}).items()}


def _tests(found: artifacts.Artifacts) -> dict[str, int]:
    tally = {"passed": 0, "failed": 0, "warned": 0, "skipped": 0}
    key = {"pass": "passed", "fail": "failed", "error": "failed", "warn": "warned", "skipped": "skipped"}
    for result in found.results:
        if str(result.get("unique_id", "")).split(".", 1)[0] in ("test", "unit_test"):
            name = key.get(str(result.get("status")))
            if name:
                tally[name] += 1
    return tally


def _returncode(found: artifacts.Artifacts) -> int:
    return int(any(str(r.get("status")) in ("error", "fail", "runtime error") for r in found.results))


def _invocation(
    record: Record,
    run: RunContext,
    found: artifacts.Artifacts,
    tests: Mapping[str, int],
    success: bool,
    staging_batches: list[str],
    now: dt.datetime,
) -> None:
    completed = found.generated_at or now
    elapsed = float(found.run_results.get("elapsed_time") or 0.0)
    record.add(
        "invocations",
        invocation_id=found.invocation_id,
        origin=os.environ.get(ORIGIN_ENV) or run.origin,
        command=found.command,
        target=run.target,
        dbt_version=found.dbt_version,
        started_at=completed - dt.timedelta(seconds=elapsed),
        completed_at=completed,
        elapsed_s=elapsed,
        status="success" if success else "failed",
        returncode=run.returncode if run.returncode is not None else _returncode(found),
        nodes=len(found.results),
        tests_passed=tests["passed"],
        tests_failed=tests["failed"],
        tests_warned=tests["warned"],
        tests_skipped=tests["skipped"],
        published_version=run.published_version.name if run.published_version else None,
        batch_ids=",".join(sorted(set(staging_batches))) or None,
        anomalies=len(record.rows["anomalies"]),
    )


def _alert(
    run: RunContext,
    found: artifacts.Artifacts,
    success: bool,
    tests: Mapping[str, int],
    found_anomalies: list[Anomaly],
) -> bool:
    if success and not found_anomalies:
        return False
    where = f"{run.workspace.name} on {run.target} ({os.environ.get(ORIGIN_ENV) or run.origin})"
    lines = [
        f"{r.get('unique_id')}: {r.get('status')}"
        + (f" ({str(r.get('message') or '').strip()[:150]})" if r.get("message") else "")
        for r in found.results
        if str(r.get("status")) in ("error", "fail", "runtime error")
    ]
    lines += [str(a) for a in found_anomalies]
    title = (
        f"TMDB pipeline FAILED: {where}, {tests['failed']} tests failed"
        if not success
        else f"TMDB pipeline: {len(found_anomalies)} anomalies in {where}"
    )
    return alerts.send(alerts.Alert(title, lines or ["the run failed before dbt ran any node"]))


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    hours = float(seconds) / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def publish_history(store: History, published: Path) -> Path:
    """A snapshot of the whole history as one Parquet file per table in `<publish>/history/<stamp>/`, then
    `latest` swapped to it (the marts' write-audit-publish pattern: a reader sees one snapshot whole)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    published.mkdir(parents=True, exist_ok=True)
    tmp = published / f".tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        store.export(tmp)
        os.rename(tmp, published / stamp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    link = published / f".latest-{os.getpid()}"
    link.unlink(missing_ok=True)
    link.symlink_to(stamp)
    os.replace(link, published / "latest")
    snapshots = sorted(
        p.name
        for p in published.iterdir()
        if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
    )
    for old in snapshots[: max(0, len(snapshots) - KEEP_SNAPSHOTS)]:
        shutil.rmtree(published / old, ignore_errors=True)
    return published / stamp


def watch_build(
    workspace: Workspace,
    outcome: Any,
    project: Any,
    *,
    origin: str,
    staging: Any = None,
    target_dir: Path | None = None,
) -> tuple[freshness.FreshnessOutcome, Recorded]:
    """After a build (warehouse.build's BuildOutcome): source freshness on the same target, then the run
    recorded. `staging`: this run's StageResult, when it staged."""
    from tmdb_pipeline.warehouse.targets import for_name

    env = {**workspace.dbt_env(), **for_name(outcome.target).env(workspace)}
    checked = freshness.check(project, outcome.packages, outcome.target, env)
    steps: dict[str, float] = {}
    counts = reasons = None
    if staging is not None:
        steps["stage"] = staging.elapsed_s
        counts = {
            entity: {
                "seen": staging.seen.get(entity, 0),
                "staged": staging.staged.get(entity, 0),
                "quarantined": staging.quarantined.get(entity, 0),
                "unchanged": staging.unchanged.get(entity, 0),
            }
            for entity in staging.seen
        }
        reasons = dict(staging.reasons)
    if outcome.result is not None:
        steps["build"] = outcome.result.elapsed_s
    if outcome.publish_s:
        steps["publish"] = outcome.publish_s
    steps["freshness"] = checked.elapsed_s
    recorded = record_run(
        RunContext(
            workspace=workspace,
            target=outcome.target,
            target_dir=target_dir or project.target_dir,
            origin=origin,
            build_ran=outcome.result is not None,
            returncode=0 if outcome.ok else 1,
            steps=steps,
            sources_file=checked.sources_file,
            staging=counts,
            reasons=reasons,
            published_version=outcome.published.folder if outcome.published else None,
        )
    )
    return checked, recorded


def record_from_artifacts(
    workspace: Workspace, project: Any, target: str, target_dir: Path, *, origin: str, check_freshness: bool
) -> tuple[freshness.FreshnessOutcome | None, Recorded]:
    """`tmdb history record`: a run whose dbt ran elsewhere (the Airflow DAG's tasks), recorded from the
    artifacts it left in `target_dir`; its success is read from the run results, its publish is the
    latest one when that came after the run."""
    from tmdb_pipeline.warehouse import packages, publish
    from tmdb_pipeline.warehouse.targets import for_name

    checked = None
    sources_file = None
    steps: dict[str, float] = {}
    if check_freshness:
        available = packages.prepare(project)
        env = {**workspace.dbt_env(), **for_name(target).env(workspace)}
        checked = freshness.check(project, available, target, env, build_dir=target_dir)
        sources_file = checked.sources_file
        steps["freshness"] = checked.elapsed_s
    found = artifacts._json(target_dir / artifacts.RUN_RESULTS) or {}
    generated = artifacts.timestamp((found.get("metadata") or {}).get("generated_at"))
    if found:
        steps["build"] = float(found.get("elapsed_time") or 0.0)
    version = publish.latest_published(workspace)
    if version is not None and generated is not None:
        published_at = artifacts.timestamp(publish.read_manifest(version).get("published_at"))
        if published_at is None or published_at < generated.replace(microsecond=0):
            version = None
    recorded = record_run(
        RunContext(
            workspace=workspace,
            target=target,
            target_dir=target_dir,
            origin=origin,
            build_ran=bool(found),
            steps=steps,
            sources_file=sources_file,
            published_version=version,
        )
    )
    return checked, recorded
