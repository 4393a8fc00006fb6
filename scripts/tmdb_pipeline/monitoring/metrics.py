"""Each run's figures in Prometheus' text format, for node_exporter's textfile collector (docs/monitoring.md).

One file per data folder, `tmdb_pipeline-<data folder>.prom`, in TMDB_METRICS_DIR (point node_exporter's
`--collector.textfile.directory` at it) or else `<data dir>/metrics/`. prometheus_client writes it to a
temporary name and renames it, so the collector never reads half a file. Every series carries the data
folder and the target as labels.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

METRICS_DIR_ENV = "TMDB_METRICS_DIR"
PREFIX = "tmdb_pipeline"
FRESHNESS_LEVEL = {"pass": 0, "warn": 1, "error": 2, "runtime error": 3}


@dataclass
class RunFigures:
    """What one run measured, as the metrics file shows it."""

    data_dir: str
    target: str
    success: bool
    finished_at: float  # epoch seconds
    last_success_at: float | None
    steps: Mapping[str, float] = field(default_factory=dict)  # step -> seconds
    rows: Mapping[str, float] = field(default_factory=dict)  # relation -> rows
    tests: Mapping[str, int] = field(default_factory=dict)  # passed, failed, warned, skipped
    files: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (entity, outcome) -> files
    quarantined: Mapping[str, int] = field(default_factory=dict)  # reason -> files
    freshness: Mapping[str, tuple[float | None, str]] = field(default_factory=dict)  # source -> (age, status)
    anomalies: Mapping[str, int] = field(default_factory=dict)  # kind -> count


def metrics_file(data_dir: Path) -> Path:
    folder = Path(os.environ[METRICS_DIR_ENV]) if os.environ.get(METRICS_DIR_ENV) else data_dir / "metrics"
    return folder / f"{PREFIX}-{data_dir.name}.prom"


def write(figures: RunFigures, path: Path) -> Path:
    registry = CollectorRegistry()
    base = {"data_dir": figures.data_dir, "target": figures.target}

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(f"{PREFIX}_{name}", doc, [*base, *labels], registry=registry)

    gauge("run_success", "1 when the last run ended green, else 0").labels(**base).set(int(figures.success))
    gauge("run_finished_timestamp_seconds", "When the last run finished").labels(**base).set(
        figures.finished_at
    )
    if figures.last_success_at is not None:
        gauge("last_success_timestamp_seconds", "When the last green run finished").labels(**base).set(
            figures.last_success_at
        )
    steps = gauge("step_duration_seconds", "Wall time of each step of the last run", ("step",))
    for step, seconds in figures.steps.items():
        steps.labels(**base, step=step).set(seconds)
    rows = gauge("relation_rows", "Rows of each table after the last run", ("relation",))
    for relation, count in figures.rows.items():
        rows.labels(**base, relation=relation).set(count)
    tests = gauge("tests", "dbt tests of the last run by outcome", ("status",))
    for status, count in figures.tests.items():
        tests.labels(**base, status=status).set(count)
    files = gauge("files", "Files the last run's staging saw, by entity and outcome", ("entity", "outcome"))
    for (entity, outcome), count in figures.files.items():
        files.labels(**base, entity=entity, outcome=outcome).set(count)
    quarantined = gauge(
        "files_quarantined", "Files the last run's staging quarantined, by reason", ("reason",)
    )
    for reason, count in figures.quarantined.items():
        quarantined.labels(**base, reason=reason).set(count)
    age = gauge("source_age_seconds", "Age of each source's newest load (dbt source freshness)", ("source",))
    level = gauge("source_freshness_level", "0 pass, 1 warn, 2 error, 3 freshness could not run", ("source",))
    for source, (seconds, status) in figures.freshness.items():
        if seconds is not None:
            age.labels(**base, source=source).set(seconds)
        level.labels(**base, source=source).set(FRESHNESS_LEVEL.get(status, 3))
    anomalies = gauge("anomalies", "Anomalies the last run found, by kind", ("kind",))
    for kind in ("volume", "schema", "freshness"):
        anomalies.labels(**base, kind=kind).set(figures.anomalies.get(kind, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)
    return path
