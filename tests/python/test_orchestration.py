"""The steps an orchestrator runs one at a time (tmdb_pipeline.orchestration), through the real CLI: each
answers one JSON line, and each agrees with what `make run` decides. The Airflow DAG that calls them is
tested end to end in tests/airflow (the airflow gate)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
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


# Stands in for dbt behind the one-writer script: says whether the data folder's dbt lock is held while it
# runs (a new open file of its own cannot take it), when it started, and the arguments it was given.
FAKE_DBT = """#!{python}
import fcntl, json, os, sys, time
fd = os.open(os.path.join(os.environ["TMDB_DATA_DIR"], ".dbt.lock"), os.O_RDWR)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    held = False
except BlockingIOError:
    held = True
print(json.dumps({{"held": held, "started": time.time(), "args": sys.argv[1:]}}))
"""


def one_writer(data_dir: Path, fake_dbt: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMDB_")}
    env["TMDB_DATA_DIR"] = str(data_dir)
    command = [sys.executable, "-m", "tmdb_pipeline.one_writer", str(fake_dbt), *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_orchestrators_dbt_waits_for_the_data_folders_dbt_lock_and_holds_it(tmp_path: Path) -> None:
    """Every dbt the DAG starts (render-dbt's dbt-one-writer) runs only when no other holds the data
    folder's dbt lock, and holds it until it ends: a second dbt waits its turn."""
    fake_dbt = tmp_path / "dbt"
    fake_dbt.write_text(FAKE_DBT.format(python=sys.executable))
    fake_dbt.chmod(0o755)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    alone = one_writer(data_dir, fake_dbt, "build", "--select", "a b")
    out, err = alone.communicate(timeout=60)
    assert alone.returncode == 0, err
    ran = json.loads(out)
    assert ran["held"] is True and ran["args"] == ["build", "--select", "a b"] and err == ""

    holder = os.open(data_dir / ".dbt.lock", os.O_RDWR)  # another dbt, running
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        waiting = one_writer(data_dir, fake_dbt, "test")
        assert waiting.stderr is not None
        first = waiting.stderr.readline()  # the wait is logged (to stderr) before it starts
        assert first.startswith(f"Waiting for the warehouse of {data_dir}"), first
        time.sleep(0.5)  # time enough for a dbt that did not wait to start and end
        assert waiting.poll() is None
        released = time.time()
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
    out, _ = waiting.communicate(timeout=60)
    assert waiting.returncode == 0
    ran = json.loads(out)
    assert ran["held"] is True and ran["started"] >= released and ran["args"] == ["test"]


def test_the_orchestrators_dbt_needs_a_data_folder_and_dbt(tmp_path: Path) -> None:
    missing = one_writer(tmp_path / "nowhere", tmp_path / "dbt", "build")
    _, err = missing.communicate(timeout=60)
    assert missing.returncode == 2
    assert err.startswith(f"TMDB_DATA_DIR is {tmp_path / 'nowhere'}, not a folder"), err
    no_dbt = one_writer(tmp_path, tmp_path / "dbt", "build")
    _, err = no_dbt.communicate(timeout=60)
    assert no_dbt.returncode == 2
    assert err.startswith(f"Cannot run {tmp_path / 'dbt'} (No such file or directory): run `make venv`"), err
