"""The tmdb_warehouse DAG's tests, run by the Airflow venv's pytest (`make test-airflow`, the airflow gate).

Everything a test writes stays in its own sandbox: Airflow's home (SQLite metadata, logs), the pipeline's data
root (landing zones, warehouses, data/current), dbt's target and log folders, the render folder. The project's
own venv (.venv) runs the pipeline and dbt, as in a deployment; this venv runs Airflow and the tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
AIRFLOW_BIN = Path(sys.executable).parent
LAUNCH = REPO_ROOT / "orchestration" / "airflow" / "launch.py"
DAG_ID = "tmdb_warehouse"


def _launch_module() -> Any:
    spec = importlib.util.spec_from_file_location("tmdb_airflow_launch", LAUNCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


launch = _launch_module()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Sandbox:
    """One Airflow home and one pipeline data root, with the environment that points everything there."""

    def __init__(self, root: Path, project_dir: Path = REPO_ROOT) -> None:
        self.root = root
        self.project_dir = project_dir
        self.airflow_home = root / "airflow"
        self.data_root = root / "data"
        self.render_dir = root / "render"
        for folder in (self.airflow_home, self.data_root, root / "home"):
            folder.mkdir(parents=True, exist_ok=True)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("KAGGLE", "TMDB_", "DBT_", "AIRFLOW", "PYTHONPATH"))
        }
        env.update(
            HOME=str(self.root / "home"),
            KAGGLEHUB_CACHE=str(self.root / "kagglehub-cache"),
            AIRFLOW_HOME=str(self.airflow_home),
            TMDB_PROJECT_DIR=str(self.project_dir),
            TMDB_PROJECT_PYTHON=str(PROJECT_PYTHON),
            TMDB_AIRFLOW_RENDER_DIR=str(self.render_dir),
            TMDB_AIRFLOW_SCHEDULE="none",  # nothing scheduled behind the tests' back
            TMDB_DATA_ROOT=str(self.data_root),
            TMDB_SKIP_DBT_DEPS="1",  # no dbt Hub: without dbt_packages/, expectations are skipped, loudly
            TMDB_THREADS="2",
            DBT_TARGET_PATH=str(self.root / "target"),
            DBT_LOG_PATH=str(self.root / "logs"),
            DBT_SEND_ANONYMOUS_USAGE_STATS="False",
        )
        env.update(extra)
        return launch.airflow_env_for(env)

    def prepare(self) -> None:
        """Render the dbt project, migrate the metadata database, create the pool (launch.py prepare)."""
        run([sys.executable, str(LAUNCH), "prepare"], self.env(), timeout=300)

    def dags_test(self, source: str = "sample", timeout: float = 600) -> dict[str, Any]:
        """One DAG run in one process (`airflow dags test`); the run as the metadata database records it."""
        log = self.root / f"dags-test-{len(list(self.root.glob('dags-test-*.log')))}.log"
        with open(log, "w") as out:
            subprocess.run(
                [
                    str(AIRFLOW_BIN / "airflow"),
                    "dags",
                    "test",
                    DAG_ID,
                    "--conf",
                    json.dumps({"source": source}),
                ],
                env=self.env(),
                cwd=REPO_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        return {**launch.last_run(self.env()), "log": str(log)}

    def task_states(self, run_id: str) -> dict[str, str]:
        import sqlite3

        with sqlite3.connect(self.airflow_home / "airflow.db") as con:
            return dict(
                con.execute(
                    "select task_id, coalesce(state, 'none') from task_instance"
                    " where dag_id = ? and run_id = ?",
                    [DAG_ID, run_id],
                ).fetchall()
            )

    def pipeline(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """`tmdb ARGS` on the sandbox's project, as `make run` calls it."""
        return run(
            [str(PROJECT_PYTHON.with_name("tmdb")), *args],
            self.env(),
            timeout=timeout,
            check=False,
        )


def run(
    command: list[str], env: dict[str, str], timeout: float = 600, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check:
        assert done.returncode == 0, (
            f"{' '.join(command)} -> exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done


def checksums(warehouse: Path) -> dict[str, Any]:
    """Row count and order-independent checksum of every core and marts table (the project's comparison,
    tmdb_devtools.checksums, run by the project's venv, which has DuckDB)."""
    code = (
        "import json; from tmdb_devtools.checksums import table_checksums;"
        f"sums = table_checksums({str(warehouse)!r});"
        "print(json.dumps({k: [v['rows'], v['checksum']] for k, v in sums.items()}))"
    )
    done = run([str(PROJECT_PYTHON), "-c", code], dict(os.environ))
    return json.loads(done.stdout)


@pytest.fixture(scope="session", autouse=True)
def _project_venv() -> None:
    if not PROJECT_PYTHON.exists():
        pytest.fail(f"the project venv is missing ({PROJECT_PYTHON}): run `make venv`")


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    """The sandbox most tests share: prepared once (render, metadata database, pool)."""
    box = Sandbox(tmp_path_factory.mktemp("airflow-sandbox"))
    box.prepare()
    return box
