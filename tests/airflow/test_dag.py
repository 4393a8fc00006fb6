"""The DAG folder imports with no error, and the graph has the shape the pipeline needs."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import pytest

from conftest import REPO_ROOT, Sandbox


@pytest.fixture(scope="module")
def dagbag(sandbox: Sandbox) -> Any:
    """The DAG folder parsed in this process, with the sandbox's environment (as a DAG processor would)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(sandbox.env())
    try:
        from airflow.dag_processing.dagbag import DagBag

        yield DagBag(str(REPO_ROOT / "orchestration" / "airflow" / "dags"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def nodes(sandbox: Sandbox) -> list[dict[str, Any]]:
    lines = (sandbox.render_dir / "dbt_ls.json").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_the_dag_folder_imports_without_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert list(dagbag.dags) == ["tmdb_warehouse"]


def test_schedule_runs_retries_and_timeouts(dagbag: Any) -> None:
    dag = dagbag.dags["tmdb_warehouse"]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.params["source"] == "sample" or "source" in dag.params
    get_data = dag.get_task("get_data")
    assert get_data.retries >= 2 and get_data.retry_exponential_backoff > 0
    others = [t.task_id for t in dag.tasks if t.task_id != "get_data" and t.retries]
    assert others == [], f"only the download is retried, not {others}"
    untimed = [t.task_id for t in dag.tasks if not isinstance(t.execution_timeout, timedelta)]
    assert untimed == [], f"tasks without a timeout: {untimed}"


def test_staging_comes_before_every_dbt_task(dagbag: Any) -> None:
    dag = dagbag.dags["tmdb_warehouse"]
    dbt_tasks = [t for t in dag.tasks if t.task_id.startswith("dbt.")]
    assert len(dbt_tasks) > 90
    not_after_stage = [
        t.task_id
        for t in dbt_tasks
        if not {"stage", "build_needed"} <= set(t.get_flat_relative_ids(upstream=True))
    ]
    assert not_after_stage == []
    # publish and docs come after every dbt task: nothing is published before every test has passed
    for last in ("record_build", "publish", "docs"):
        upstream = set(dag.get_task(last).get_flat_relative_ids(upstream=True))
        assert {t.task_id for t in dbt_tasks} <= upstream, last


def test_the_model_trains_after_publish_from_the_published_marts(dagbag: Any) -> None:
    dag = dagbag.dags["tmdb_warehouse"]
    train = dag.get_task("train_model")
    assert "publish" in train.upstream_task_ids
    dbt_tasks = {t.task_id for t in dag.tasks if t.task_id.startswith("dbt.")}
    assert dbt_tasks <= set(train.get_flat_relative_ids(upstream=True))
    assert train.get_flat_relative_ids(upstream=False) == set()  # nothing waits for the model


def test_every_run_is_recorded_after_publish_whatever_its_outcome(dagbag: Any) -> None:
    """record_history follows publish (so a green run's publish is in its record) and runs when the build
    failed too (all_done), so a failed run is recorded and alerted; the webhook's URL reaches it only."""
    dag = dagbag.dags["tmdb_warehouse"]
    task_ = dag.get_task("record_history")
    assert task_.upstream_task_ids == {"publish"}
    assert str(task_.trigger_rule) in ("all_done", "TriggerRule.ALL_DONE")
    dbt_tasks = {t.task_id for t in dag.tasks if t.task_id.startswith("dbt.")}
    assert dbt_tasks <= set(task_.get_flat_relative_ids(upstream=True))
    assert task_.downstream_task_ids == set()


def test_every_dbt_node_is_a_task(dagbag: Any, nodes: list[dict[str, Any]]) -> None:
    """Every model (run), seed, snapshot and every model's tests (test) is a task of the dbt group."""
    task_ids = set(dagbag.dags["tmdb_warehouse"].task_ids)
    suffix = {"model": "run", "seed": "seed", "snapshot": "snapshot"}
    expected = {
        f"dbt.{node['name']}.{suffix[node['resource_type']]}"
        for node in nodes
        if node["resource_type"] in suffix
    }
    models = [n for n in nodes if n["resource_type"] == "model"]
    assert len(models) == len(list((REPO_ROOT / "models").rglob("*.sql")))
    assert expected - task_ids == set()
    tested = {
        parent.split(".")[-1]
        for node in nodes
        if node["resource_type"] == "test"
        for parent in node["depends_on"]["nodes"]
        if parent.startswith("model.")
    }
    assert {f"dbt.{name}.test" for name in tested} - task_ids == set()


def test_one_writer_at_a_time(dagbag: Any, sandbox: Sandbox) -> None:
    """One `dbt build` (the producer) writes the warehouse. It and the tasks after the dbt group that open the
    warehouse share a pool of one slot; the per-node tasks read the producer's results beside one another,
    and every dbt the DAG may start (the producer's, a per-node task's fallback) goes through render-dbt's
    dbt-one-writer, which waits for the data folder's dbt lock."""
    dag = dagbag.dags["tmdb_warehouse"]
    producer = dag.get_task("dbt.dbt_producer_watcher")
    assert producer.base_cmd == ["build"]
    assert [t.task_id for t in dag.tasks if t.task_type.startswith("Dbt") and "Producer" in t.task_type] == [
        "dbt.dbt_producer_watcher"
    ]
    writers = [producer] + [
        dag.get_task(name) for name in ("record_build", "publish", "docs", "record_history")
    ]
    assert {t.pool for t in writers} == {"tmdb_warehouse"}
    dbt_tasks = [t for t in dag.tasks if t.task_type.startswith("Dbt")]
    one_writer = str(sandbox.render_dir / "dbt-one-writer")
    assert {t.dbt_executable_path for t in dbt_tasks} == {one_writer}
    watchers = [t for t in dbt_tasks if t is not producer]
    assert len(watchers) > 90 and "tmdb_warehouse" not in {t.pool for t in watchers}
