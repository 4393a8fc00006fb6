"""The Airflow DAG `tmdb_warehouse`: what `make run` does, as Airflow tasks (docs/airflow.md).

get_data -> stage -> build_needed -> dbt (the dbt project rendered by astronomer-cosmos: one task group
per model with its run and test tasks, the seeds and the snapshot) -> record_build -> publish -> docs, and
publish -> train_model (the box-office model from the published marts, docs/ml.md), and after publish,
whatever the run's outcome, record_history (source freshness, the run into the history, anomalies,
metrics, an alert: docs/monitoring.md).

The DAG runs in Airflow's own environment; every step of the project runs in the project's environment,
through the project's command line (`project_command()`, the one place that says how), and dbt runs from the
project's venv (Cosmos is pointed at its dbt executable). Nothing machine-specific is written here: it comes
from environment variables that `make airflow` / `make airflow-test` set, and that a deployment sets on its
DAG processor and workers:

  TMDB_PROJECT_DIR         the project checkout (default: three folders up from this file)
  TMDB_PROJECT_COMMAND     how to call the project (default: the project venv's `tmdb`, "<venv>/bin/tmdb")
  TMDB_PROJECT_PYTHON      the project venv's python, `tmdb` beside it (default: <project>/.venv/bin/python)
  TMDB_AIRFLOW_RENDER_DIR  where `tmdb render-dbt` wrote what dbt will run
                           (default: <project>/target/orchestration)
  TMDB_AIRFLOW_SCHEDULE    the schedule (default: @daily); "none" for manual runs only
  TMDB_AIRFLOW_SOURCE      the default of the `source` param (default: auto)
  TMDB_AIRFLOW_POOL        the pool of the producer's `dbt build` and of the tasks after it that open the
                           warehouse (default: tmdb_warehouse, 1 slot); every dbt the DAG starts also waits
                           for the data folder's dbt lock (render-dbt's dbt-one-writer)
  TMDB_AIRFLOW_DBT_MODE    watcher (default: one `dbt build`, watched node by node), build or after_each (one
                           dbt invocation per node, in the pool), for measurement (docs/airflow.md)

Kaggle credentials come from the Airflow connection `kaggle_default` (login = username, password = API key) or
from KAGGLE_USERNAME / KAGGLE_KEY in the worker's environment; they reach the get_data subprocess only. The
alert webhook's URL comes from the connection `tmdb_alerts_webhook` (its host, or extra `webhook_url`) or from
TMDB_ALERT_WEBHOOK_URL; it reaches the record_history subprocess only.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, TriggerRule, get_current_context, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

log = logging.getLogger(__name__)

DAG_ID = "tmdb_warehouse"
PROJECT_DIR = Path(os.environ.get("TMDB_PROJECT_DIR") or Path(__file__).resolve().parents[3])
RENDER_DIR = Path(os.environ.get("TMDB_AIRFLOW_RENDER_DIR") or PROJECT_DIR / "target" / "orchestration")
# What the producer's `dbt build` leaves for the docs task: its manifest and dbt's saved parse
BUILD_DIR = RENDER_DIR / "last-build"
POOL = os.environ.get("TMDB_AIRFLOW_POOL", "tmdb_warehouse")
DBT_MODE = os.environ.get("TMDB_AIRFLOW_DBT_MODE", "watcher")
KAGGLE_CONNECTION = "kaggle_default"
ALERTS_CONNECTION = "tmdb_alerts_webhook"
# The data folder the run works on is what build_needed found: its "data_dir" (TMDB_DATA_DIR for every later
# step) and its "dbt_env", the environment `make run` gives dbt for that folder; one variable of it, for dbt:
DBT_ENV = "{{ ti.xcom_pull(task_ids='build_needed', key='dbt_env')['%s'] }}"


def project_command() -> list[str]:
    """The command prefix that calls the project: the ONE place the DAG says how (docs/airflow.md)."""
    configured = os.environ.get("TMDB_PROJECT_COMMAND")
    if configured:
        return shlex.split(configured)
    python = Path(os.environ.get("TMDB_PROJECT_PYTHON") or PROJECT_DIR / ".venv" / "bin" / "python")
    return [str(python.with_name("tmdb"))]


def run_step(args: list[str], env: dict[str, str] | None = None, answer: bool = True) -> dict[str, Any]:
    """Run one project command, its output into the task log; its answer is the last stdout line (JSON)."""
    command = [*project_command(), *args]
    log.info("Running: %s", " ".join(shlex.quote(part) for part in command))
    process = subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        log.info("%s", lines[-1])
    code = process.wait()
    if code != 0:
        raise RuntimeError(f"{' '.join(args[:1])} failed with exit code {code}; its message is above")
    if not answer:
        return {}
    return json.loads(next(line for line in reversed(lines) if line.startswith("{")))


def _render() -> dict[str, Any]:
    render_file = RENDER_DIR / "dbt_render.json"
    if not render_file.is_file():
        raise FileNotFoundError(
            f"{render_file} is missing: run `{' '.join(project_command())} render-dbt --out {RENDER_DIR}` "
            "before Airflow parses this DAG (make airflow and make airflow-test do), and again after "
            "changing the dbt project."
        )
    return json.loads(render_file.read_text(encoding="utf-8"))


def _kaggle_env() -> dict[str, str]:
    """KAGGLE_USERNAME / KAGGLE_KEY from the Airflow connection, when there is one (never logged)."""
    try:
        from airflow.sdk import BaseHook

        connection = BaseHook.get_connection(KAGGLE_CONNECTION)
    except Exception:  # noqa: BLE001 -- no such connection: the environment (or ~/.kaggle) is used
        return {}
    if not (connection.login and connection.password):
        return {}
    return {"KAGGLE_USERNAME": connection.login, "KAGGLE_KEY": connection.password}


def _alerts_env() -> dict[str, str]:
    """TMDB_ALERT_WEBHOOK_URL from the Airflow connection, when there is one (never logged)."""
    try:
        from airflow.sdk import BaseHook

        connection = BaseHook.get_connection(ALERTS_CONNECTION)
    except Exception:  # noqa: BLE001 -- no such connection: the environment's variable, if any, is used
        return {}
    url = str((connection.extra_dejson or {}).get("webhook_url") or connection.host or "")
    return {"TMDB_ALERT_WEBHOOK_URL": url} if url.startswith(("http://", "https://")) else {}


def _keep_build_artifacts(project_dir: str, **_: Any) -> None:
    """Cosmos's callback after the producer's `dbt build`, in the copy of the project it ran in (deleted
    afterwards): keep the build's manifest and saved parse in BUILD_DIR, for the docs task, and its run
    results, for record_history."""
    target = Path(project_dir) / RENDER["env"].get("DBT_TARGET_PATH", "target")
    kept = BUILD_DIR.with_name(f".{BUILD_DIR.name}.tmp")
    shutil.rmtree(kept, ignore_errors=True)
    kept.mkdir(parents=True)
    for name in ("manifest.json", "partial_parse.msgpack", "run_results.json"):
        if (target / name).is_file():
            shutil.copyfile(target / name, kept / name)
    shutil.rmtree(BUILD_DIR, ignore_errors=True)
    kept.rename(BUILD_DIR)


def _dbt_task_group(render: dict[str, Any]) -> DbtTaskGroup:
    """The dbt project as tasks. watcher: one `dbt build` (the producer task, the only writer) whose node
    results drive one task per model, seed and snapshot and one test task per model."""
    watcher = DBT_MODE == "watcher"
    # The data folder's paths as build_needed found them, each variable as `make run` sets it for dbt: the
    # docs task's dbt then finds the build's parse fits (a variable set for one and not the other would
    # make dbt parse the files that read it again). Each is one XCom read when a task renders its fields:
    # the watchers, which run dbt only as Cosmos's fallback, get the data folder alone (~100 tasks).
    data_env = render.get("data_dir_env", ["TMDB_DATA_DIR"])
    build_env = {**render["env"], **{name: DBT_ENV % name for name in data_env}}
    env = {**render["env"], "TMDB_DATA_DIR": DBT_ENV % "TMDB_DATA_DIR"} if watcher else build_env
    operator_args: dict[str, Any] = {"env": env, "append_env": True, "install_deps": False}
    if watcher:
        # The watchers start when the producer has finished (see _watch_after_producer): by then every
        # result is in XCom, so the first poke answers, without deferring. They read and run beside one
        # another, outside the one-slot pool (in it, each waited a scheduler loop: ~1 s a task, 100 tasks);
        # the dbt one of them may run as Cosmos's fallback waits for the data folder's dbt lock first
        # (render["dbt_executable"] is render-dbt's dbt-one-writer).
        operator_args.update(deferrable=False, poke_interval=2, should_store_compiled_sql=False)
    else:
        operator_args["pool"] = POOL  # one dbt invocation per node: one at a time
        if render["exclude"]:
            operator_args["exclude"] = " ".join(render["exclude"])
    group = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            dbt_project_path=render["project_dir"],
            install_dbt_deps=False,
            partial_parse=True,
        ),
        profile_config=ProfileConfig(
            profile_name="tmdb",
            target_name="duckdb",
            profiles_yml_filepath=Path(render["profiles_dir"]) / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER if watcher else ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=render["dbt_executable"],
            **(
                {"setup_operator_args": {"pool": POOL, "env": build_env, "callback": _keep_build_artifacts}}
                if watcher
                else {}
            ),
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_LS_FILE,
            dbt_ls_path=Path(render["ls_file"]),
            exclude=render["exclude"],
            test_behavior=TestBehavior.BUILD if DBT_MODE == "build" else TestBehavior.AFTER_EACH,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=render["dbt_executable"],
            emit_datasets=False,
        ),
        operator_args=operator_args,
    )
    if watcher:
        _watch_after_producer(group)
    return group


def _watch_after_producer(group: DbtTaskGroup) -> None:
    """Start the watcher tasks once the producer's `dbt build` has ended, whatever its outcome.

    Cosmos starts them beside the producer, to show progress live; in a single-process run (`airflow dags
    test`, `dag.test()`) a watcher picked before the producer would wait for it forever. After the producer,
    each one reads its node's result at once; ALL_DONE lets them run when the build failed, so that a failed
    test fails at its own task (and its model's downstream tasks are upstream_failed).
    """
    producer = next(t for t in group if t.task_id.endswith(".dbt_producer_watcher"))
    in_group = {t.task_id for t in group}
    for task_ in list(group):
        if task_ is producer or task_.task_id.endswith("_done"):
            continue
        if not (task_.upstream_task_ids & in_group):
            producer >> task_
            task_.trigger_rule = TriggerRule.ALL_DONE


RENDER = _render()
schedule = os.environ.get("TMDB_AIRFLOW_SCHEDULE", "@daily")
with DAG(
    dag_id=DAG_ID,
    description="TMDB warehouse: get the data, stage it, dbt build (Cosmos), publish the marts, docs",
    schedule=None if schedule.lower() == "none" else schedule,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=6),
    default_args={"retries": 0, "execution_timeout": timedelta(hours=1)},
    params={
        "source": Param(
            os.environ.get("TMDB_AIRFLOW_SOURCE", "auto"),
            type="string",
            description="auto (Kaggle when credentials are found, else the sample), sample, kaggle, a folder",
        )
    },
    tags=["tmdb", "dbt", "cosmos"],
    doc_md=__doc__,
) as dag:

    @task(
        retries=3,
        retry_delay=timedelta(minutes=1),
        retry_exponential_backoff=2.0,
        max_retry_delay=timedelta(minutes=30),
        execution_timeout=timedelta(hours=3),
    )
    def get_data(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Download (Kaggle), generate (sample) or check (folder) the data; retried with backoff."""
        source = str((params or {}).get("source") or "auto")
        return run_step(["get", "--source", source, "--json"], env=_kaggle_env())

    @task
    def stage(data: dict[str, Any]) -> None:
        """Stage the files into the landing zone (a new batch, or nothing new)."""
        run_step(["stage", "--source", data["source"]], answer=False)

    @task.short_circuit
    def build_needed() -> bool:
        """Skip every dbt task, publish and docs when nothing new was staged and nothing changed (make run's
        rule: build_stamp)."""
        answer = run_step(["build-needed"])
        get_current_context()["ti"].xcom_push(key="data_dir", value=answer["data_dir"])
        get_current_context()["ti"].xcom_push(key="dbt_env", value=answer["dbt_env"])
        log.info("Build needed: %s (%s)", answer["build_needed"], answer["reason"])
        return bool(answer["build_needed"])

    @task(pool=POOL)
    def record_build() -> dict[str, Any]:
        """Record the green build as make run does, so the next run (make run or DAG) agrees."""
        return run_step(["record-build"], env={"TMDB_DATA_DIR": _data_dir()})

    @task(pool=POOL)
    def publish() -> dict[str, Any]:
        """Export the marts that passed as Parquet into <data dir>/publish/<version>/ (latest -> it)."""
        return run_step(["publish"], env={"TMDB_DATA_DIR": _data_dir()})

    @task
    def train_model() -> dict[str, Any]:
        """The box-office model from the marts just published (`tmdb ml`, docs/ml.md): published beside them
        when it beats the mean baseline; too few movies of known revenue train none, and say so."""
        return run_step(["ml", "--json"], env={"TMDB_DATA_DIR": _data_dir()})

    @task(pool=POOL)
    def docs() -> str:
        """The dbt docs site of the warehouse just built (index.html, manifest.json, catalog.json) in
        <render dir>/docs/: the build's own manifest (the SQL it ran) and a new catalog. In watcher mode dbt
        starts from the build's parse and compiles nothing again; otherwise as `make docs` makes it."""
        site = str(RENDER_DIR / "docs")
        # dbt's profile and target as Cosmos passes them (--profile tmdb --target duckdb): dbt keeps an
        # earlier parse only when these match
        env = {"TMDB_DATA_DIR": _data_dir(), "DBT_PROFILE": "tmdb", "DBT_TARGET": "duckdb"}
        from_build = ["--from-build", str(BUILD_DIR)] if DBT_MODE == "watcher" else []
        run_step(["docs", "--no-serve", "--docs-dir", site, *from_build], env=env, answer=False)
        return f"{site}/index.html"

    @task(pool=POOL, trigger_rule=TriggerRule.ALL_DONE)
    def record_history() -> dict[str, Any]:
        """After the run, green or not: `dbt source freshness`, then the run recorded in the history from the
        build's artifacts, checked for anomalies, its metrics written and, if it failed or something looks
        wrong, an alert sent. Never fails for the run's failure: the dbt tasks show that."""
        # the build's profile and target as Cosmos passed them, as for docs: freshness starts from its parse
        env = {"TMDB_DATA_DIR": _data_dir(), "TMDB_RUN_ORIGIN": "airflow", "DBT_PROFILE": "tmdb",
               "DBT_TARGET": "duckdb", **_alerts_env()}  # fmt: skip
        # watcher mode keeps the build's run results there; the other modes' dbt runs leave none to read, so
        # their runs are recorded with freshness only
        return run_step(["history", "record", "--target-dir", str(BUILD_DIR)], env=env)

    def _data_dir() -> str:
        return str(get_current_context()["ti"].xcom_pull(task_ids="build_needed", key="data_dir"))

    staged = stage(get_data())
    decided = build_needed()
    dbt = _dbt_task_group(RENDER)
    published = publish()
    staged >> decided >> dbt >> record_build() >> published >> docs()
    published >> train_model()
    published >> record_history()
