"""The closing summary of a run: what came in, what went where, what was tested, where the warehouse is, and
the dbt command that works by hand in the state the run left."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tmdb_pipeline import ENTITIES
from tmdb_pipeline.monitoring import Recorded
from tmdb_pipeline.monitoring.freshness import FreshnessOutcome
from tmdb_pipeline.project import tool
from tmdb_pipeline.report import skipped_tests
from tmdb_pipeline.report.warehouse_stats import LAYERS, failing_rows, layer_row_counts, load_accounting
from tmdb_pipeline.stage import StageResult
from tmdb_pipeline.warehouse import BuildOutcome
from tmdb_pipeline.workspace import Workspace


@dataclass
class RunSummary:
    started: float
    source: str = ""
    stage: StageResult | None = None
    workspace: Workspace | None = None
    build: BuildOutcome | None = None
    rows: dict[str, tuple[int, int]] = field(default_factory=dict)  # layer -> (relations, rows)
    accounting: list[dict[str, Any]] = field(default_factory=list)  # rows of mart_audit__load_reconciliation
    skipped_list: Path | None = None  # the full list of the tests skipped for a missing package
    model: str = ""  # the box-office model's line (tmdb_pipeline.ml), when the run trained one
    model_failed: bool = False  # training met a bad input (the line says which and its fix)
    freshness: FreshnessOutcome | None = None  # `dbt source freshness` after the build
    monitoring: Recorded | None = None  # the run as recorded in the history, and what the checks found

    @property
    def ok(self) -> bool:
        """No build, or a green one whose marts were published, and no failed training (the exit code)."""
        return (self.build is None or self.build.ok) and not self.model_failed

    def read_warehouse(self) -> None:
        """The row counts and the accounting of a DuckDB warehouse the run built or left in place, and a
        few of the rows each failed data test found."""
        if self.workspace is None or self.build is None or self.build.target != "duckdb":
            return
        warehouse = self.workspace.warehouse
        if not warehouse.exists():
            return
        self.rows = layer_row_counts(warehouse)
        self.accounting = load_accounting(warehouse)
        for failure in self.build.result.failures if self.build.result else []:
            if failure.is_data_test:
                with contextlib.suppress(Exception):  # only an illustration: the failure stands without it
                    failure.examples = failing_rows(warehouse, failure.compiled_code)


def _n(value: int) -> str:
    return f"{value:,}"


def _shown(path: Path) -> str:
    """A path as typed from the current folder, when that is shorter than the absolute path."""
    relative = os.path.relpath(path, Path.cwd())
    return relative if len(relative) < len(str(path)) else str(path)


def _stage_lines(stage: StageResult) -> list[str]:
    batch = f"batch {stage.batch_id}" if stage.batch_id else "nothing new, no batch written"
    lines = [f"Staging       {batch} in {_shown(stage.landing_dir)} ({stage.elapsed_s:.1f} s)"]
    for entity in ENTITIES:
        seen, staged = stage.seen.get(entity, 0), stage.staged.get(entity, 0)
        quarantined, unchanged = stage.quarantined.get(entity, 0), stage.unchanged.get(entity, 0)
        lines.append(
            f"  {entity:<11} {_n(seen)} files seen = {_n(staged)} staged + {_n(quarantined)} quarantined"
            f" + {_n(unchanged)} unchanged"
        )
    if stage.reasons:
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(stage.reasons.items()))
        lines.append(f"  quarantine  {reasons} (table marts.mart_audit__quarantined_files)")
    return lines


def _accounting_lines(accounting: list[dict[str, Any]]) -> list[str]:
    lines = []
    for row in accounting:
        verdict = (
            "reconciled" if row["is_reconciled"] else "NOT RECONCILED (the build's reconciliation tests fail)"
        )
        lines.append(
            f"  {row['entity']:<11} {_n(row['files_seen'])} files = {_n(row['files_staged'])} staged"
            f" + {_n(row['files_quarantined'])} quarantined -> {_n(row['raw_rows'])} raw rows,"
            f" {_n(row['distinct_raw_ids'])} ids ({_n(row['duplicates_removed'])} duplicates removed)"
            f" -> {_n(row['staging_rows'])} staging -> {_n(row['core_titles'])} core titles: {verdict}"
        )
    return ["Accounting    all batches, from marts.mart_audit__load_reconciliation", *lines] if lines else []


def _build_lines(build: BuildOutcome, skipped_list: Path | None) -> list[str]:
    if build.result is None:
        return [
            f"dbt build     skipped on target {build.target}: {build.skipped_because}",
            "Tests         not re-run: the last green build's tests stand for this warehouse",
        ]
    result = build.result
    built = sum(result.counts.get("model", {}).values())
    lines = [
        f"dbt build     {'OK' if result.returncode == 0 else 'FAILED'}: {built} models"
        f" on target {build.target} ({result.elapsed_s:.1f} s)"
    ]
    if result.returncode != 0 and not result.counts:
        lines.append("  dbt stopped before it ran any node: its message is above")
    if build.rebuilt_because:
        lines.append(f"  built although nothing new was staged: {build.rebuilt_because}")
    tests = result.tests()
    lines.append(
        f"Tests         {_n(tests['passed'])} passed, {_n(tests['failed'])} failed,"
        f" {_n(tests['warned'])} warned, {_n(tests['skipped'])} skipped"
    )
    if result.skipped_expectations and skipped_list is not None:
        lines += [
            "  " + line
            for line in skipped_tests.note(
                result.skipped_expectations, build.packages.detail, skipped_list, _shown(skipped_list)
            )
        ]
    if build.unit_tests_left_out:
        lines.append(f"Unit tests    not run: {build.unit_tests_left_out}")
    for failure in result.failures[:20]:
        lines.append(f"  FAILED      {failure}")
        lines += [f"              {_row(example)}" for example in failure.examples]
    return lines


def _publish_lines(build: BuildOutcome, workspace: Workspace | None) -> list[str]:
    """Where readers find the marts (warehouse.publish), or why nothing was published."""
    if build.published is not None:
        return [
            f"Published     {_shown(build.published.latest)} ({len(build.published.relations)} relations,"
            f" built {build.published.built_at}; `make dashboard` shows them)"
        ]
    if workspace is None:
        return []
    latest = _shown(workspace.publish_dir / "latest")
    if build.publish_note:
        return [f"Published     {latest} {build.publish_note}"]
    if not (workspace.publish_dir / "latest").exists():
        return ["Published     nothing: the build failed (and nothing was published before)"]
    return [f"Published     nothing: the build failed, so {latest} keeps the last green build's marts"]


def _monitoring_lines(
    freshness: FreshnessOutcome | None, recorded: Recorded | None, workspace: Workspace | None
) -> list[str]:
    """Source freshness, the anomalies, and where the run was recorded (tmdb_pipeline.monitoring)."""
    lines = []
    if freshness is not None:
        if not freshness.checks:
            lines.append(
                f"Freshness     not checked: dbt source freshness stopped (exit {freshness.returncode})"
            )
        else:
            ages = ", ".join(
                f"{c.source} {c.status}" + (f" ({c.age_s / 3600:.1f} h)" if c.age_s is not None else "")
                for c in freshness.checks
            )
            lines.append(f"Freshness     {freshness.worst.upper()}: {ages}")
    if recorded is None:
        return lines
    if recorded.anomalies:
        lines.append(f"Anomalies     {len(recorded.anomalies)} (warnings; the run's outcome stands)")
        lines += [f"  {anomaly}" for anomaly in recorded.anomalies[:20]]
    elif recorded.invocation_id:
        lines.append(
            "Anomalies     none (volume against each table's history, schema against the last publish)"
        )
    where = _shown(workspace.history_dir) if workspace is not None else "the history"
    if recorded.problem:
        lines.append(f"History       {recorded.problem}")
    elif recorded.written:
        lines.append(
            f"History       run {recorded.invocation_id} recorded in {where} ({recorded.elapsed_s:.2f} s)"
        )
    elif recorded.invocation_id:
        lines.append(f"History       run {recorded.invocation_id} was recorded before; nothing added")
    if recorded.metrics_file is not None:
        lines.append(f"Metrics       {_shown(recorded.metrics_file)} (Prometheus text format)")
    if recorded.alert_sent:
        lines.append("Alert         sent to the webhook (TMDB_ALERT_WEBHOOK_URL)")
    return lines


def _row(row: dict[str, object]) -> str:
    text = ", ".join(f"{column}={value!r}" for column, value in row.items())
    return text if len(text) <= 150 else text[:147] + "..."


def by_hand(workspace: Workspace, build: BuildOutcome) -> str:
    """The dbt command a person can run next, as it works in the state this run left: plain dbt where its
    packages are installed; the pipeline's dbt wrapper where they are missing (dbt alone stops on
    packages.yml) or on Spark (its paths and metastore are set first)."""
    data_dir = f"TMDB_DATA_DIR={workspace.relative()}"
    if build.target in ("spark", "spark-thrift"):
        return f"{data_dir} {_shown(Path(tool('tmdb')))} dbt build --target {build.target}   (docs/spark.md)"
    if build.packages.complete:
        return f"{data_dir} {_shown(Path(tool('dbt')))} build   (README, 'dbt by hand')"
    return (
        f"{data_dir} {_shown(Path(tool('tmdb')))} dbt build   (runs dbt without the missing packages;"
        " README, 'dbt by hand')"
    )


def render(summary: RunSummary) -> str:
    lines = ["", "=" * 30 + " TMDB pipeline summary " + "=" * 30]
    if summary.source:
        lines.append(f"Source        {summary.source}")
    if summary.stage is not None:
        lines += _stage_lines(summary.stage)
    if summary.rows:
        lines.append(
            "Rows          "
            + " | ".join(
                f"{layer} {_n(rows)} ({relations} rel.)"
                for layer in LAYERS
                if layer in summary.rows
                for relations, rows in [summary.rows[layer]]
            )
        )
    lines += _accounting_lines(summary.accounting)
    if summary.build is not None:
        lines += _build_lines(summary.build, summary.skipped_list)
        lines.append(f"Warehouse     {_shown(Path(summary.build.warehouse))}")
        lines += _publish_lines(summary.build, summary.workspace)
        if summary.model:
            lines.append(f"Model         {summary.model}")
        lines += _monitoring_lines(summary.freshness, summary.monitoring, summary.workspace)
        if summary.workspace is not None:
            lines.append(f"By hand       {by_hand(summary.workspace, summary.build)}")
    lines.append(f"Elapsed       {time.monotonic() - summary.started:.1f} s")
    lines.append("=" * 83)
    return "\n".join(lines)


def print_summary(summary: RunSummary) -> None:
    print(render(summary), flush=True)
