"""The closing summary of a run: what came in, what went where, what was tested, where the warehouse is."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tmdb_pipeline import ENTITIES
from tmdb_pipeline.paths import REPO_ROOT

if TYPE_CHECKING:
    from tmdb_pipeline.dbt_runner import BuildResult, Packages

LAYERS = ("raw", "staging", "intermediate", "core", "marts", "snapshots", "reference")
TEST_RESOURCES = ("test", "unit_test")


@dataclass
class RunSummary:
    started: float
    source: str = ""
    stage: Any = None  # tmdb_pipeline.stage.StageResult
    packages: Packages | None = None
    build: BuildResult | None = None
    rows: dict[str, tuple[int, int]] = field(default_factory=dict)  # layer -> (relations, rows)
    accounting: list[dict[str, Any]] = field(default_factory=list)  # rows of mart_audit__load_reconciliation
    warehouse: Path | None = None
    data_dir: Path | None = None
    target: str = "duckdb"
    build_skipped: str = ""  # why `run` did not run dbt build, when it did not
    unit_tests_skipped: str = ""  # why `run` left dbt's unit tests out of its build, when it did
    published: Any = None  # tmdb_pipeline.publish.PublishResult, when this run published
    publish_note: str = ""  # what happened to the published set otherwise


def layer_row_counts(warehouse: Path) -> dict[str, tuple[int, int]]:
    """Relations and rows per layer schema, read from the warehouse after the build."""
    import duckdb

    counts: dict[str, tuple[int, int]] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.sql(
            "select table_schema, table_name from information_schema.tables"
            " where table_catalog = current_database()"
        ).fetchall()
        for schema, table in tables:
            if schema not in LAYERS:
                continue
            (rows,) = con.sql(f'select count(*) from "{schema}"."{table}"').fetchone() or (0,)
            relations, total = counts.get(schema, (0, 0))
            counts[schema] = (relations + 1, total + int(rows))
    return counts


def load_accounting(warehouse: Path) -> list[dict[str, Any]]:
    """The warehouse's own reconciliation (files -> raw -> staging -> core), when the build got that far."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        found = con.sql(
            "select count(*) from information_schema.tables"
            " where table_schema = 'marts' and table_name = 'mart_audit__load_reconciliation'"
        ).fetchone()
        if not found or not found[0]:
            return []
        relation = con.sql("select * from marts.mart_audit__load_reconciliation order by entity")
        return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


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


def _n(value: int) -> str:
    return f"{value:,}"


def _relative(path: Path) -> str:
    try:
        return os.path.relpath(path, Path.cwd()) if path.is_relative_to(REPO_ROOT) else str(path)
    except ValueError:
        return str(path)


def _stage_lines(stage: Any) -> list[str]:
    lines = []
    batch = f"batch {stage.batch_id}" if stage.batch_id else "nothing new, no batch written"
    lines.append(f"Staging       {batch} in {_relative(stage.landing_dir)} ({stage.elapsed_s:.1f} s)")
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


def _test_line(build: BuildResult, packages: Packages | None) -> str:
    tally: dict[str, int] = {}
    for resource in TEST_RESOURCES:
        for status, count in build.counts.get(resource, {}).items():
            tally[status] = tally.get(status, 0) + count
    skipped = tally.get("skipped", 0) + len(build.skipped_expectations)
    failed = tally.get("fail", 0) + tally.get("error", 0)
    line = (
        f"Tests         {_n(tally.get('pass', 0))} passed, {_n(failed)} failed,"
        f" {_n(tally.get('warn', 0))} warned, {_n(skipped)} skipped"
    )
    if build.skipped_expectations:
        why = packages.detail if packages else ""
        line += f" ({len(build.skipped_expectations)} need dbt-expectations: {why})"
    return line


def _publish_lines(summary: RunSummary) -> list[str]:
    """Where readers find the marts (tmdb_pipeline.publish), or why nothing was published."""
    if summary.published is not None:
        published = summary.published
        return [
            f"Published     {_relative(published.latest)} ({len(published.relations)} relations,"
            f" built {published.built_at}; `make dashboard` shows them)"
        ]
    if summary.data_dir is None or (summary.build is None and not summary.build_skipped):
        return []
    latest = _relative(summary.data_dir / "publish" / "latest")
    if summary.publish_note:
        return [f"Published     {latest} {summary.publish_note}"]
    if not (summary.data_dir / "publish" / "latest").exists():
        return ["Published     nothing: the build failed (and nothing was published before)"]
    return [f"Published     nothing: the build failed, so {latest} keeps the last green build's marts"]


def print_summary(summary: RunSummary) -> None:
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
    if summary.build_skipped:
        lines.append(f"dbt build     skipped on target {summary.target}: {summary.build_skipped}")
        lines.append("Tests         not re-run: the last green build's tests stand for this warehouse")
    if summary.build is not None:
        models = summary.build.counts.get("model", {})
        built = sum(models.values())
        lines.append(
            f"dbt build     {'OK' if summary.build.returncode == 0 else 'FAILED'}: {built} models"
            f" on target {summary.target} ({summary.build.elapsed_s:.1f} s)"
        )
        lines.append(_test_line(summary.build, summary.packages))
        if summary.unit_tests_skipped:
            lines.append(f"Unit tests    not run: {summary.unit_tests_skipped}")
        for failure in summary.build.failures[:20]:
            lines.append(f"  FAILED      {failure}")
    if summary.warehouse is not None:
        lines.append(f"Warehouse     {_relative(summary.warehouse)}")
    lines += _publish_lines(summary)
    if summary.data_dir is not None:
        lines.append(
            f"By hand       TMDB_DATA_DIR={_relative(summary.data_dir)} .venv/bin/dbt build"
            "   (data/current is the folder staged last; see README, 'dbt by hand')"
            if summary.target != "spark"
            # Spark needs its metastore and table paths set first, which the pipeline's dbt command does
            else f"By hand       TMDB_DATA_DIR={_relative(summary.data_dir)} .venv/bin/python"
            " scripts/pipeline.py dbt build --target spark   (sets Spark's paths first; see docs/spark.md)"
        )
    lines.append(f"Elapsed       {time.monotonic() - summary.started:.1f} s")
    lines.append("=" * 83)
    print("\n".join(lines), flush=True)
