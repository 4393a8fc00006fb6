"""The run's closing summary: what a failed data test found, and the dbt command that works by hand."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from tmdb_pipeline.report.summary import RunSummary, by_hand, render
from tmdb_pipeline.warehouse import BuildOutcome
from tmdb_pipeline.warehouse.dbt import BuildResult, Failure
from tmdb_pipeline.warehouse.packages import Packages
from tmdb_pipeline.workspace import DataRoot, Workspace


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    for name in ("TMDB_DUCKDB_PATH", "TMDB_DATA_DIR", "TMDB_LANDING_DIR"):
        monkeypatch.delenv(name, raising=False)
    folder = DataRoot(tmp_path / "data").for_source("sample")
    folder.root.mkdir(parents=True)
    with duckdb.connect(str(folder.warehouse)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.m as select * from (values (1, 'a'), (2, null), (3, null)) as v(id, name)"
        )
    return folder


def outcome(packages: Packages, failures: list[Failure], target: str = "duckdb") -> BuildOutcome:
    result = BuildResult(returncode=1, counts={"test": {"pass": 4, "fail": len(failures)}}, failures=failures)
    return BuildOutcome(target, packages, "tmdb.duckdb", result=result)


INSTALLED = Packages("installed", "dbt_packages/")


def test_a_failed_data_test_shows_a_few_of_the_rows_it_found(workspace: Workspace) -> None:
    failed = Failure(
        "test.tmdb.not_null_m_name",
        "Got 2 results, configured to fail if != 0",
        'select id, name from "marts"."m" where name is null',
    )
    summary = RunSummary(started=time.monotonic(), workspace=workspace, build=outcome(INSTALLED, [failed]))
    summary.read_warehouse()
    text = render(summary)
    assert "dbt build     FAILED" in text
    assert "  FAILED      test.tmdb.not_null_m_name: Got 2 results" in text
    assert "id=2, name=None" in text and "id=3, name=None" in text


def test_a_failure_whose_query_cannot_run_again_is_still_reported(workspace: Workspace) -> None:
    broken = Failure("test.tmdb.x", "Runtime Error", "select * from no_such_table")
    summary = RunSummary(started=time.monotonic(), workspace=workspace, build=outcome(INSTALLED, [broken]))
    summary.read_warehouse()
    assert "  FAILED      test.tmdb.x: Runtime Error" in render(summary)
    assert broken.examples == []


@pytest.mark.parametrize(
    ("packages", "target", "expected"),
    [
        (INSTALLED, "duckdb", "TMDB_DATA_DIR=data/sample .venv/bin/dbt build"),
        (
            Packages("unavailable", "no dbt Hub"),
            "duckdb",
            "TMDB_DATA_DIR=data/sample .venv/bin/tmdb dbt build",
        ),
        (INSTALLED, "spark", "TMDB_DATA_DIR=data/sample .venv/bin/tmdb dbt build --target spark"),
    ],
)
def test_the_by_hand_line_is_the_command_that_works_in_the_state_left(
    packages: Packages, target: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tmdb_pipeline.project import project

    monkeypatch.chdir(project().root)
    workspace = DataRoot(project().root / "data").for_source("sample")
    line = by_hand(workspace, outcome(packages, [], target))
    assert line.startswith(expected), line


def test_the_summary_shows_freshness_the_anomalies_and_where_the_run_was_recorded(
    workspace: Workspace,
) -> None:
    from tmdb_pipeline.monitoring import Recorded
    from tmdb_pipeline.monitoring.anomalies import Anomaly
    from tmdb_pipeline.monitoring.freshness import FreshnessCheck, FreshnessOutcome

    summary = RunSummary(started=time.monotonic(), workspace=workspace, build=outcome(INSTALLED, []))
    summary.freshness = FreshnessOutcome(
        1, 2.0, workspace.root / "sources.json",
        [FreshnessCheck("tmdb_landing.manifest", "error", 72 * 3600.0, None),
         FreshnessCheck("tmdb_landing.movies", "pass", 3600.0, None)],
    )  # fmt: skip
    summary.monitoring = Recorded(
        invocation_id="abc",
        written=True,
        anomalies=[Anomaly("volume", "landing.movies files seen", "700 files, -30% on the last run")],
        metrics_file=workspace.root / "metrics" / "tmdb_pipeline-sample.prom",
    )
    text = render(summary)
    assert (
        "Freshness     ERROR: tmdb_landing.manifest error (72.0 h), tmdb_landing.movies pass (1.0 h)" in text
    )
    assert "Anomalies     1 (warnings; the run's outcome stands)" in text
    assert "  volume landing.movies files seen: 700 files, -30% on the last run" in text
    assert "History       run abc recorded in" in text and "Metrics       " in text

    summary.monitoring = Recorded(
        invocation_id="abc", problem="The run history in x is damaged: run `tmdb history rebuild`"
    )
    assert "History       The run history in x is damaged" in render(summary)
