"""A dbt test made to fail fails the DAG run at that test's task, and nothing is published or recorded.

The failing test lives in a temporary copy of the project (a singular test on dim_genres that returns every
row); the tracked files are not touched. The copy has its own tests/dbt/ and links to everything else;
`tmdb` works on it through TMDB_PROJECT_DIR.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import REPO_ROOT, Sandbox

FAILING_TEST = """-- Made to fail by tests/airflow/test_failure.py: returns every genre.
select genre_key from {{ ref('dim_genres') }}
"""
NOT_COPIED = {
    ".git",
    ".venv-airflow",
    ".venv-airflow-lock",
    "target",
    "logs",
    "data",
    ".dbt_offline",
    "tests",
}


def project_with_a_failing_test(root: Path) -> Path:
    project = root / "project"
    project.mkdir()
    for entry in REPO_ROOT.iterdir():
        if entry.name not in NOT_COPIED:
            (project / entry.name).symlink_to(entry)
    shutil.copytree(REPO_ROOT / "tests" / "dbt", project / "tests" / "dbt")
    (project / "tests" / "dbt" / "assert_airflow_gate_fails_on_dim_genres.sql").write_text(FAILING_TEST)
    return project


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sandbox, dict]:
    root = tmp_path_factory.mktemp("failing-test")
    box = Sandbox(root, project_dir=project_with_a_failing_test(root))
    box.prepare()
    return box, box.dags_test("sample")


def test_the_run_fails_at_the_failing_tests_task(failing: tuple[Sandbox, dict]) -> None:
    box, run = failing
    assert run["state"] == "failed"
    states = box.task_states(run["run_id"])
    assert states["dbt.dim_genres.test"] == "failed", {k: v for k, v in states.items() if v != "success"}
    assert states["dbt.dim_genres.run"] == "success"
    failed = sorted(t for t, s in states.items() if s == "failed")
    # the producer's `dbt build` fails too (it ran the test); no model failed. (Another model's test task
    # fails when one of its tests also reads a model dbt skipped after the failure: dim_titles' relationships
    # tests read the bridges.)
    assert "dbt.dbt_producer_watcher" in failed
    assert [t for t in failed if t.endswith(".run")] == []
    # what depends on dim_genres never ran; other branches of the graph did
    assert states["dbt.mart_reporting__genre_year.run"] == "upstream_failed"
    assert states["dbt.dim_languages.run"] == "success"


def test_nothing_is_published_or_recorded(failing: tuple[Sandbox, dict]) -> None:
    box, run = failing
    states = box.task_states(run["run_id"])
    assert {states[t] for t in ("record_build", "publish", "docs")} == {"upstream_failed"}
    data_dir = box.data_root / "sample"
    assert (data_dir / "tmdb.duckdb").is_file()
    # no marts published (record_history, which runs whatever the outcome, publishes the history beside)
    assert not (data_dir / "publish" / "latest").exists()
    # build_needed set the stamp aside before the build (as `make run` does), and nothing recorded it since
    stamp = json.loads((data_dir / ".last-green-build-duckdb.json").read_text())
    assert "forgotten" in stamp, stamp
    # and the pipeline's own publish refuses the warehouse of a failed build
    done = box.pipeline("publish")
    assert done.returncode == 2 and "Nothing published" in done.stderr
