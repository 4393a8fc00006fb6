"""Whole DAG runs on the built-in sample (`airflow dags test`, one process, no server):

- a first run builds, tests, publishes and documents the warehouse, and its marts equal those of `make run`
  (`tmdb run`) on the same data: every core and marts table, row counts and checksums;
- a second run with nothing new does no dbt work (as `make run`), and `make run` then agrees;
- the figures (the DAG run against `make run`) are written to target/airflow-timings.json.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO_ROOT, Sandbox, checksums

# Every marts model is a table, published as one Parquet file.
MART_MODELS = sorted(p.stem for p in (REPO_ROOT / "models" / "marts").glob("*.sql"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`tmdb run --source sample` (what `make run` runs) in a sandbox of its own."""
    box = Sandbox(tmp_path_factory.mktemp("make-run"))
    started = time.monotonic()
    done = box.pipeline("run", "--source", "sample")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {"elapsed_s": elapsed, "marts": checksums(box.data_root / "sample" / "tmdb.duckdb")}


@pytest.fixture(scope="module")
def first_run(sandbox: Sandbox) -> dict[str, Any]:
    started = time.monotonic()
    run = sandbox.dags_test("sample")
    run["wall_s"] = time.monotonic() - started
    return run


def _tail(run: dict[str, Any]) -> str:
    return "\n".join(Path(run["log"]).read_text().splitlines()[-80:])


def test_a_dag_run_builds_publishes_and_documents(sandbox: Sandbox, first_run: dict[str, Any]) -> None:
    assert first_run["state"] == "success", f"failed tasks {first_run['failed']}\n{_tail(first_run)}"
    states = sandbox.task_states(first_run["run_id"])
    assert set(states.values()) == {"success"}, {k: v for k, v in states.items() if v != "success"}
    data_dir = sandbox.data_root / "sample"
    latest = data_dir / "publish" / "latest"
    assert latest.is_symlink()
    published = json.loads((latest / "manifest.json").read_text())["relations"]
    assert sorted(published) == MART_MODELS
    assert published["mart_ml__movie_features"]["rows"] == 2000
    assert sorted(p.stem for p in latest.glob("*.parquet")) == MART_MODELS
    site = sandbox.render_dir / "docs"
    assert (site / "catalog.json").is_file()
    # the site shows the producer's build: its own manifest, with the SQL each model ran
    assert (site / "manifest.json").read_bytes() == (
        sandbox.render_dir / "last-build" / "manifest.json"
    ).read_bytes()
    models = [
        n
        for n in json.loads((site / "manifest.json").read_text())["nodes"].values()
        if n["resource_type"] == "model"
    ]
    assert models and all(node["compiled_code"] for node in models)
    # ... and its dbt started from the producer's parse (the same environment), parsing no file again. Of the
    # project commands the DAG logs (run_step, in the DAG file), docs and record_history (its `dbt source
    # freshness`) run dbt, each from the build's parse.
    log = Path(first_run["log"]).read_text().splitlines()
    commands = [line for line in log if "tmdb_warehouse.py" in line]
    assert [line for line in commands if "Running:" in line and " docs " in line]
    assert not [line for line in commands if "partial pars" in line.lower()]
    stamp = json.loads((data_dir / ".last-green-build-duckdb.json").read_text())
    assert "forgotten" not in stamp and stamp["batches"], stamp


def test_the_marts_equal_those_of_make_run(
    sandbox: Sandbox, first_run: dict[str, Any], reference: dict[str, Any]
) -> None:
    assert first_run["state"] == "success"
    built = checksums(sandbox.data_root / "sample" / "tmdb.duckdb")
    assert sorted(built) == sorted(reference["marts"])
    # the project's comparison leaves out the one-row-per-batch load history (LOAD_HISTORY_TABLES)
    compared = [name for name in MART_MODELS if name != "mart_audit__load_history"]
    assert sorted(name.split(".")[-1] for name in built if name.startswith("marts.")) == compared
    different = {
        name: (built[name], reference["marts"][name])
        for name in built
        if built[name] != reference["marts"][name]
    }
    assert different == {}
    timings = {
        "make_run_s": round(reference["elapsed_s"], 1),
        "dag_run_s": round(first_run["duration_s"], 1),
        "airflow_dags_test_wall_s": round(first_run["wall_s"], 1),
        "ratio": round(first_run["duration_s"] / reference["elapsed_s"], 2),
    }
    target = REPO_ROOT / "target"
    target.mkdir(exist_ok=True)
    (target / "airflow-timings.json").write_text(json.dumps(timings, indent=1))
    print(f"\nDAG run {timings['dag_run_s']} s vs make run {timings['make_run_s']} s: {timings['ratio']}x")


def test_a_second_run_with_nothing_new_does_no_dbt_work(sandbox: Sandbox, first_run: dict[str, Any]) -> None:
    assert first_run["state"] == "success"
    data_dir = sandbox.data_root / "sample"
    warehouse = data_dir / "tmdb.duckdb"
    before = warehouse.stat().st_mtime_ns
    versions = sorted(p.name for p in (data_dir / "publish").iterdir())
    second = sandbox.dags_test("sample")
    assert second["state"] == "success", _tail(second)
    states = sandbox.task_states(second["run_id"])
    assert {states[t] for t in ("get_data", "stage", "build_needed")} == {"success"}
    not_skipped = {t: s for t, s in states.items() if t.startswith("dbt.") and s != "skipped"}
    assert not_skipped == {}
    assert {states[t] for t in ("record_build", "publish", "docs")} == {"skipped"}
    assert warehouse.stat().st_mtime_ns == before
    assert sorted(p.name for p in (data_dir / "publish").iterdir()) == versions
    # ... and `make run` agrees: nothing new, the build the DAG recorded stands
    done = sandbox.pipeline("run", "--source", "sample")
    assert done.returncode == 0, done.stdout[-3000:]
    assert re.search(r"^dbt build\s+skipped", done.stdout, re.MULTILINE), done.stdout[-3000:]
