"""The steps an orchestrator runs one at a time (tmdb_pipeline.orchestration), through the real CLI: each
answers one JSON line, and each agrees with what `make run` decides. The Airflow DAG that calls them is
tested end to end in tests/airflow (the airflow gate)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from _pipeline_helpers import Run, Sandbox


def answer(run: Run) -> dict[str, Any]:
    assert run.returncode == 0, run.describe()
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    (tmp_path / "slot-folder").mkdir()
    (tmp_path / "slot").symlink_to(tmp_path / "slot-folder")
    return Sandbox(tmp_path / "box", tmp_path / "target", tmp_path / "slot" / "tmdb.duckdb")


@pytest.mark.slow
def test_get_data_then_stage_then_build_needed(sandbox: Sandbox) -> None:
    got = answer(sandbox.run("get", "--source", "sample", "--json", TMDB_SAMPLE_SIZE="50", warehouse=False))
    assert got["kind"] == "sample" and got["source"] == "sample" and Path(got["path"]).is_dir()
    staged = sandbox.run("stage", "--source", got["source"], TMDB_SAMPLE_SIZE="50", warehouse=False)
    assert staged.returncode == 0, staged.describe()
    decided = answer(sandbox.run("build-needed", warehouse=False))
    assert decided["build_needed"] is True
    assert decided["reason"] == "no green build is recorded for this warehouse"
    assert Path(decided["data_dir"]) == sandbox.data_root / "sample"
    # what `make run` gives dbt for that folder, for an orchestrator's dbt to get the same
    assert decided["dbt_env"] == {
        "TMDB_DATA_DIR": decided["data_dir"],
        "TMDB_LANDING_DIR": str(Path(decided["data_dir"]) / "landing"),
        "TMDB_DUCKDB_PATH": str(sandbox.slot),  # the sandbox's TMDB_DUCKDB_PATH, kept as it was set
        "TMDB_SPARK_DIR": str(Path(decided["data_dir"]) / "spark"),
    }
    # nothing built yet: publish refuses, with a message and exit code 2, and writes nothing
    refused = sandbox.run("publish", warehouse=False)
    assert refused.returncode == 2 and "Nothing published" in refused.stderr
    assert not (sandbox.data_root / "sample" / "publish").exists()


def test_the_commands_answer_their_help(sandbox: Sandbox) -> None:
    for command in ("get", "build-needed", "render-dbt", "record-build", "publish"):
        done = sandbox.run(command, "--help", warehouse=False)
        assert done.returncode == 0 and f"tmdb {command}" in done.stdout, done.describe()
