"""Watching the pipeline (tmdb_pipeline.monitoring): the run history, anomalies, alerts and metrics.

Runs are made of the artifacts dbt leaves (run_results.json, manifest.json, sources.json) written here, and
of published versions as warehouse.publish writes them, so that each check sees exactly the run it is about;
one test runs the real `dbt source freshness` on a landing zone staged three days ago.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tmdb_pipeline import monitoring
from tmdb_pipeline.monitoring import alerts, anomalies
from tmdb_pipeline.monitoring.history import History, HistoryError
from tmdb_pipeline.workspace import DataRoot, Workspace

REPO_ROOT = Path(__file__).resolve().parents[2]
MARTS = {"mart_a": {"id": "BIGINT", "name": "VARCHAR", "score": "DOUBLE"}}


# ----------------------------------------------------------------------------------------------------
# Making runs


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return DataRoot(tmp_path / "data").workspace(tmp_path / "data" / "sample")


class Webhook:
    """A webhook on 127.0.0.1 that records every JSON body it receives."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    hook = Webhook()
    monkeypatch.setenv(alerts.WEBHOOK_ENV, hook.url)
    yield hook
    hook.close()


def _results(failing_test: bool) -> list[dict[str, Any]]:
    timing = [
        {"name": "execute", "started_at": "2026-01-01T00:00:00Z", "completed_at": "2026-01-01T00:00:01Z"}
    ]
    return [
        {
            "unique_id": "model.tmdb.mart_a",
            "status": "success",
            "execution_time": 1.5,
            "timing": timing,
            "adapter_response": {"rows_affected": 3},
            "message": "OK",
        },
        {
            "unique_id": "test.tmdb.not_null_mart_a_id.1",
            "status": "fail" if failing_test else "pass",
            "execution_time": 0.2,
            "timing": timing,
            "failures": 2 if failing_test else 0,
            "message": "Got 2 results, configured to fail if != 0" if failing_test else None,
        },
        {
            "unique_id": "unit_test.tmdb.mart_a.keeps_ids",
            "status": "pass",
            "execution_time": 0.1,
            "timing": [],
        },
    ]


NODES = {
    "model.tmdb.mart_a": {"name": "mart_a", "schema": "marts", "config": {"materialized": "table"}},
    "test.tmdb.not_null_mart_a_id.1": {
        "name": "not_null_mart_a_id",
        "test_metadata": {"name": "not_null", "kwargs": {"column_name": "id"}},
        "attached_node": "model.tmdb.mart_a",
        "column_name": "id",
        "config": {"severity": "ERROR"},
    },
}


def make_run(
    workspace: Workspace,
    tmp_path: Path,
    *,
    seen: int = 1000,
    rows: int = 5000,
    failing_test: bool = False,
    columns: dict[str, dict[str, str]] | None = None,
    sources: dict[str, Any] | None = None,
    invocation_id: str | None = None,
) -> monitoring.RunContext:
    """One run's dbt artifacts and publish, as the pipeline leaves them; returns what record_run takes."""
    invocation_id = invocation_id or str(uuid.uuid4())
    target = tmp_path / "targets" / invocation_id
    target.mkdir(parents=True)
    now = dt.datetime.now(dt.UTC)
    (target / "run_results.json").write_text(
        json.dumps(
            {
                "metadata": {
                    "invocation_id": invocation_id,
                    "generated_at": now.isoformat(),
                    "dbt_version": "1.11",
                },
                "args": {"which": "build"},
                "elapsed_time": 12.5,
                "results": _results(failing_test),
            }
        )
    )
    (target / "manifest.json").write_text(json.dumps({"nodes": NODES}))
    if sources is not None:
        (target / "sources.json").write_text(json.dumps(sources))
    version = None
    if not failing_test:
        version = workspace.publish_dir / now.strftime("%Y%m%dT%H%M%S.%fZ")
        version.mkdir(parents=True)
        relations = {
            name: {"file": f"{name}.parquet", "rows": rows, "columns": cols}
            for name, cols in (columns or MARTS).items()
        }
        (version / "manifest.json").write_text(
            json.dumps({"published_at": now.isoformat(), "relations": relations})
        )
    return monitoring.RunContext(
        workspace=workspace,
        target="duckdb",
        target_dir=target,
        origin="test",
        returncode=1 if failing_test else 0,
        steps={"stage": 1.0, "build": 12.5},
        sources_file=target / "sources.json" if sources is not None else None,
        staging={
            "movies": {
                "seen": seen,
                "staged": seen // 100,
                "quarantined": 2,
                "unchanged": seen - seen // 100 - 2,
            }
        },
        reasons={"invalid_json": 2},
        published_version=version,
    )


def history_rows(workspace: Workspace, sql: str) -> list[tuple[Any, ...]]:
    return History(workspace.history_dir).query(sql)


# ----------------------------------------------------------------------------------------------------
# The history


def test_n_runs_give_n_invocations_and_recording_one_again_adds_nothing(
    workspace: Workspace, tmp_path: Path
) -> None:
    runs = [make_run(workspace, tmp_path) for _ in range(4)]
    recorded = [monitoring.record_run(run) for run in runs]
    assert all(r.written and not r.problem for r in recorded), [r.problem for r in recorded]
    again = monitoring.record_run(runs[1])
    assert not again.written and again.invocation_id == recorded[1].invocation_id

    assert history_rows(workspace, "select count(*), count(distinct invocation_id) from {invocations}") == [
        (4, 4)
    ]
    # per node, per test (with its model and column), per step
    assert history_rows(workspace, "select count(*) from {node_results}") == [(12,)]
    assert history_rows(
        workspace,
        "select distinct test_type, test_short_name, model_unique_id, column_name from {test_results}"
        " order by all",
    ) == [("generic", "not_null", "model.tmdb.mart_a", "id"), ("unit", None, None, None)]
    steps = history_rows(workspace, "select distinct step from {run_steps} order by step")
    assert [s for (s,) in steps] == ["build", "history", "stage"]
    # published beside the marts for the dashboard: the whole history, one file per table
    published = (workspace.published_history_dir / "latest" / "invocations.parquet").resolve()
    with duckdb.connect() as con:
        assert con.execute(f"select count(*) from '{published}'").fetchone() == (4,)


def test_a_killed_record_leaves_nothing_and_the_next_one_cleans_it_up(
    workspace: Workspace, tmp_path: Path
) -> None:
    monitoring.record_run(make_run(workspace, tmp_path))
    half = workspace.history_dir / ".tmp-999999999-abc"  # a process that is gone wrote part of a run
    half.mkdir()
    (half / "invocations.parquet").write_bytes(b"PAR1 half")
    store = History(workspace.history_dir)
    assert len(store.invocations()) == 1
    assert store.query("select count(*) from {invocations}") == [(1,)]
    monitoring.record_run(make_run(workspace, tmp_path))
    assert not half.exists()
    assert len(store.invocations()) == 2


def test_a_damaged_history_is_a_clear_error_naming_the_rebuild_and_never_stops_a_run(
    workspace: Workspace, tmp_path: Path
) -> None:
    first, second = (monitoring.record_run(make_run(workspace, tmp_path)) for _ in range(2))
    damaged = History(workspace.history_dir).invocation_dir(first.invocation_id) / "metrics.parquet"
    damaged.write_bytes(b"not parquet at all")

    with pytest.raises(HistoryError, match="tmdb history rebuild") as raised:
        History(workspace.history_dir).query("select count(*) from {metrics}")
    assert f"invocation={first.invocation_id} has an unreadable metrics.parquet" in str(raised.value)
    third = monitoring.record_run(make_run(workspace, tmp_path))  # the run goes on, and is recorded
    assert third.written and "tmdb history rebuild" in third.problem

    done = _tmdb(workspace, "history", "rebuild")
    assert done.returncode == 0, done.stderr
    assert "2 runs kept, 1 set aside" in done.stdout
    left = history_rows(workspace, "select invocation_id from {invocations} order by all")
    assert sorted(i for (i,) in left) == sorted([second.invocation_id, third.invocation_id])


def test_clear_asks_first_then_removes_the_whole_history(workspace: Workspace, tmp_path: Path) -> None:
    monitoring.record_run(make_run(workspace, tmp_path))
    refused = _tmdb(workspace, "history", "clear")
    assert refused.returncode == 2 and "--yes" in refused.stderr and "Traceback" not in refused.stderr
    assert History(workspace.history_dir).invocations()
    done = _tmdb(workspace, "history", "clear", "--yes")
    assert done.returncode == 0 and "1 runs removed" in done.stdout
    assert not workspace.history_dir.exists() and not workspace.published_history_dir.exists()


def _tmdb(workspace: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TMDB_DATA_DIR": str(workspace.root),
        "TMDB_DATA_ROOT": str(workspace.data_root.path),
    }
    return subprocess.run(
        [sys.executable, "-m", "tmdb_pipeline", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


# ----------------------------------------------------------------------------------------------------
# Anomalies


def test_a_30_percent_drop_in_a_source_fires_the_volume_anomaly_and_a_1_percent_increment_does_not(
    workspace: Workspace, tmp_path: Path
) -> None:
    for seen in (1000, 1000, 1000):
        assert not monitoring.record_run(make_run(workspace, tmp_path, seen=seen)).anomalies
    grown = monitoring.record_run(make_run(workspace, tmp_path, seen=1010))
    assert grown.anomalies == []
    dropped = monitoring.record_run(make_run(workspace, tmp_path, seen=707))
    assert [(a.kind, a.relation) for a in dropped.anomalies] == [("volume", "landing.movies files seen")]
    assert "-30%" in dropped.anomalies[0].detail
    assert history_rows(workspace, "select kind, relation, observed from {anomalies}") == [
        ("volume", "landing.movies files seen", 707.0)
    ]
    assert history_rows(
        workspace, f"select anomalies from {{invocations}} where invocation_id = '{dropped.invocation_id}'"
    ) == [(1,)]


def test_the_volume_band_is_learned_from_each_tables_own_changes() -> None:
    steady_growth = [1000 * 1.01**i for i in range(10)]
    low, high = anomalies.volume_band(steady_growth) or (0, 0)
    assert low <= steady_growth[-1] * 1.01 <= high  # the usual 1 % is expected
    assert not low <= steady_growth[-1] * 0.7 <= high
    # the first runs: a default band around the last value
    assert anomalies.volume({"t": 790.0}, {"t": [1000.0]}) and not anomalies.volume(
        {"t": 810.0}, {"t": [1000.0]}
    )
    # a table never seen before has nothing to compare with
    assert anomalies.volume({"new": 5.0}, {}) == []
    # a noisy table gets a wider band than a quiet one
    noisy = [1000.0, 1100.0, 950.0, 1080.0, 990.0, 1060.0]
    assert not anomalies.volume({"t": 1150.0}, {"t": noisy})
    assert anomalies.volume({"t": 1150.0}, {"t": [1000.0] * 6})


def test_a_dropped_column_fires_the_schema_check_against_the_previous_publish(
    workspace: Workspace, tmp_path: Path
) -> None:
    monitoring.record_run(make_run(workspace, tmp_path))
    dropped = {"mart_a": {"id": "BIGINT", "score": "VARCHAR", "added": "DATE"}}
    found = monitoring.record_run(make_run(workspace, tmp_path, columns=dropped)).anomalies
    assert sorted((a.kind, a.relation, a.column, a.detail) for a in found) == [
        ("schema", "mart_a", "added", "column added (DATE)"),
        ("schema", "mart_a", "name", "column removed (was VARCHAR)"),
        ("schema", "mart_a", "score", "retyped DOUBLE -> VARCHAR"),
    ]
    assert anomalies.schema({"gone": {"a": "INTEGER"}}, {})[0].detail == "no longer published"


# ----------------------------------------------------------------------------------------------------
# Alerts and metrics


def test_the_webhook_gets_one_alert_for_a_failing_test_and_none_for_a_green_run(
    workspace: Workspace, tmp_path: Path, webhook: Webhook
) -> None:
    green = monitoring.record_run(make_run(workspace, tmp_path))
    assert not green.alert_sent and webhook.received == []
    failed = monitoring.record_run(make_run(workspace, tmp_path, failing_test=True))
    assert failed.alert_sent
    assert len(webhook.received) == 1
    text = webhook.received[0]["text"]
    assert "FAILED" in text and "not_null_mart_a_id" in text and "Got 2 results" in text
    assert history_rows(workspace, "select status from {invocations} order by completed_at") == [
        ("success",),
        ("failed",),
    ]


def test_nothing_is_sent_without_a_webhook(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(alerts.WEBHOOK_ENV, raising=False)
    assert not monitoring.record_run(make_run(workspace, tmp_path, failing_test=True)).alert_sent
    assert not alerts.send(alerts.Alert("x", ["y"]))


def test_an_unreachable_webhook_is_logged_and_the_run_stands(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    hook = Webhook()
    hook.close()  # nothing listens there any more
    monkeypatch.setenv(alerts.WEBHOOK_ENV, hook.url)
    recorded = monitoring.record_run(make_run(workspace, tmp_path, failing_test=True))
    assert recorded.written and not recorded.alert_sent
    assert "could not be reached" in caplog.text and hook.url not in caplog.text


def test_the_metrics_file_parses_as_prometheus_text(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMDB_METRICS_DIR", str(tmp_path / "textfile"))
    sources = _sources(age_s=100.0, status="pass")
    monitoring.record_run(make_run(workspace, tmp_path, sources=sources))
    recorded = monitoring.record_run(make_run(workspace, tmp_path, failing_test=True, sources=sources))
    assert recorded.metrics_file == tmp_path / "textfile" / "tmdb_pipeline-sample.prom"
    families = {f.name: f for f in text_string_to_metric_families(recorded.metrics_file.read_text())}
    value = {
        (
            f.name,
            tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("data_dir", "target"))),
        ): s.value
        for f in families.values()
        for s in f.samples
    }
    assert value[("tmdb_pipeline_run_success", ())] == 0
    assert value[("tmdb_pipeline_tests", (("status", "failed"),))] == 1
    assert value[("tmdb_pipeline_tests", (("status", "passed"),))] == 1
    assert value[("tmdb_pipeline_step_duration_seconds", (("step", "build"),))] == 12.5
    assert value[("tmdb_pipeline_files_quarantined", (("reason", "invalid_json"),))] == 2
    assert value[("tmdb_pipeline_source_age_seconds", (("source", "tmdb_landing.manifest"),))] == 100.0
    assert value[("tmdb_pipeline_source_freshness_level", (("source", "tmdb_landing.manifest"),))] == 0
    # the last green run is the first one, from the history
    first_success = history_rows(
        workspace, "select epoch(completed_at) from {invocations} where status = 'success'"
    )
    assert value[("tmdb_pipeline_last_success_timestamp_seconds", ())] == pytest.approx(first_success[0][0])
    assert all(s.labels["data_dir"] == "sample" for f in families.values() for s in f.samples)


def _sources(age_s: float, status: str) -> dict[str, Any]:
    loaded = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age_s)
    return {
        "metadata": {"invocation_id": str(uuid.uuid4()), "generated_at": dt.datetime.now(dt.UTC).isoformat()},
        "results": [
            {
                "unique_id": "source.tmdb.tmdb_landing.manifest",
                "status": status,
                "max_loaded_at": loaded.isoformat(),
                "snapshotted_at": dt.datetime.now(dt.UTC).isoformat(),
                "max_loaded_at_time_ago_in_s": age_s,
                "criteria": {
                    "warn_after": {"count": 26, "period": "hour"},
                    "error_after": {"count": 50, "period": "hour"},
                },
            }
        ],
    }


# ----------------------------------------------------------------------------------------------------
# Freshness, with the real dbt


@pytest.mark.slow
def test_a_stale_landing_zone_fires_freshness_and_an_alert(tmp_path: Path, webhook: Webhook) -> None:
    """`tmdb history record` after a DAG run whose build was skipped: dbt source freshness on a landing zone
    whose last batch was staged three days ago errors (the sources' thresholds: 26 h warn, 50 h error)."""
    data_dir = tmp_path / "data" / "sample"
    batch = data_dir / "landing" / "batch=b000001"
    batch.mkdir(parents=True)
    staged_at = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")
    line = {
        "source_file": "1.json",
        "size_bytes": 2,
        "mtime_ns": 1,
        "sha256": "0" * 64,
        "status": "staged",
        "reason": None,
        "detail": None,
        "tmdb_id": 1,
        "staged_at": staged_at,
    }
    (batch / "manifest.ndjson").write_text(
        "\n".join(json.dumps({**line, "entity": entity}) for entity in ("movies", "series")) + "\n"
    )
    for entity in ("movies", "series"):
        (batch / f"{entity}-1.ndjson").write_text(
            json.dumps({"source_file": "1.json", "file_sha256": "0" * 64, "doc": {"id": 1}}) + "\n"
        )
    env = {
        **os.environ,
        "TMDB_DATA_ROOT": str(tmp_path / "data"),
        "TMDB_DATA_DIR": str(data_dir),
        "TMDB_DUCKDB_PATH": str(tmp_path / "tmdb.duckdb"),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tmdb_pipeline",
            "history",
            "record",
            "--origin",
            "airflow",
            "--target-dir",
            str(tmp_path / "target"),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["freshness"] == "error" and answer["recorded"], answer
    assert sorted(a.split(":")[0] for a in answer["anomalies"]) == [
        "freshness tmdb_landing.manifest",
        "freshness tmdb_landing.movies",
        "freshness tmdb_landing.series",
    ]
    workspace = DataRoot(tmp_path / "data").workspace(data_dir)
    rows = history_rows(
        workspace, "select table_name, status, age_s > 3 * 86400 - 600 from {freshness_results}"
    )
    assert sorted(rows) == [("manifest", "error", True), ("movies", "error", True), ("series", "error", True)]
    assert len(webhook.received) == 1 and "freshness" in webhook.received[0]["text"]
