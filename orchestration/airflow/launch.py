"""Run the tmdb_warehouse DAG locally: `make airflow` (the UI) and `make airflow-test` (one run, no server).

Run with the Airflow venv's python (.venv-airflow/bin/python): it sets the environment the DAG reads (project
folder, project venv, where dbt's node list is), renders what dbt will run with the project's own command
(`tmdb render-dbt`), prepares Airflow's metadata database (SQLite under AIRFLOW_HOME, default
data/airflow/) and the one-slot pool, then:

  launch.py test [--source sample]   one DAG run end to end in this process (`airflow dags test`); prints the
                                      run's state, its duration and the task states; exit 0 when it succeeded
  launch.py standalone [--port N]    `airflow standalone` on 127.0.0.1:N (default 8080): API server,
                                      scheduler, DAG processor and triggerer; prints the URL and the admin
                                      password once
  launch.py prepare                  only the preparation (for a test that starts Airflow itself)
  launch.py env                      print the environment it sets, as `export` lines

compose.yaml runs Airflow as one service per component, all from the `airflow` image (docs/containers.md):

  launch.py secrets                  generate what the stack keeps secret, once, into TMDB_SECRETS_DIR
                                      (default /secrets, a volume): nothing is printed but the file names
  launch.py init                     wait for the metadata database, then prepare (the one-shot init)
  launch.py component NAME [ARG..]   `airflow NAME ARG..` (api-server, scheduler, dag-processor,
                                      triggerer) in the environment above

Every setting can be overridden from the environment (AIRFLOW_HOME, TMDB_PROJECT_PYTHON, TMDB_AIRFLOW_* ...).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets as token_source
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT_DIR = HERE.parents[1]
DAG_ID = "tmdb_warehouse"
AIRFLOW_BIN = Path(sys.executable).parent
POOL = "tmdb_warehouse"


def airflow_env(port: int | None = None) -> dict[str, str]:
    """The environment Airflow and the DAG need, over this process's (which wins, except where noted)."""
    return airflow_env_for(dict(os.environ), port)


def airflow_env_for(base: dict[str, str], port: int | None = None) -> dict[str, str]:
    home = Path(base.get("AIRFLOW_HOME") or PROJECT_DIR / "data" / "airflow").resolve()
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(HERE / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        # Cosmos runs dbt in a copy of the project and keeps dbt's partial parse in its cache between runs
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos-cache"),
        # How long the scheduler sleeps after a loop with nothing to do. Airflow's 1 s is up to a second
        # between a task's end and the start of the tasks after it, at every step through the dbt graph;
        # 0.25 s keeps most of the gain of 0.1 s (a run on the sample: 59 s, 49 s, 47 s) at a third of its
        # idle CPU (4 % of a core instead of 12 %)
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "TMDB_PROJECT_DIR": str(PROJECT_DIR),
        "TMDB_PROJECT_PYTHON": str(PROJECT_DIR / ".venv" / "bin" / "python"),
        "TMDB_AIRFLOW_RENDER_DIR": str(home / "render"),
        "TMDB_AIRFLOW_POOL": POOL,
    }
    env = dict(base)
    for key, value in defaults.items():
        env.setdefault(key, value)
    # `airflow standalone` starts its components as `airflow ...` from PATH: this venv's
    if not env.get("PATH", "").startswith(f"{AIRFLOW_BIN}{os.pathsep}"):
        env["PATH"] = f"{AIRFLOW_BIN}{os.pathsep}{env.get('PATH', '')}"
    if port is not None:
        # the UI / REST API and the task execution API on one local port; a container listens on every
        # address of its own (TMDB_AIRFLOW_HOST=0.0.0.0) and publishes the port on the host's localhost
        env["AIRFLOW__API__HOST"] = base.get("TMDB_AIRFLOW_HOST", "127.0.0.1")
        env["AIRFLOW__API__PORT"] = str(port)
        env["AIRFLOW__API__BASE_URL"] = f"http://127.0.0.1:{port}"
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{port}/execution/"
    return env


def _say(message: str) -> None:
    print(f"[airflow] {message}", flush=True)


def _run(command: Sequence[str], env: dict[str, str], quiet: bool = True) -> None:
    done = subprocess.run(
        list(command), env=env, cwd=PROJECT_DIR, capture_output=quiet, text=True, check=False
    )
    if done.returncode != 0:
        output = (done.stdout or "") + (done.stderr or "")
        raise SystemExit(f"{' '.join(command[:3])} failed (exit {done.returncode}):\n{output[-4000:]}")


def project_command(env: dict[str, str]) -> list[str]:
    if env.get("TMDB_PROJECT_COMMAND"):
        return shlex.split(env["TMDB_PROJECT_COMMAND"])
    return [str(Path(env["TMDB_PROJECT_PYTHON"]).with_name("tmdb"))]


def prepare(env: dict[str, str]) -> None:
    started = time.monotonic()
    if not Path(env["TMDB_PROJECT_PYTHON"]).exists() and not env.get("TMDB_PROJECT_COMMAND"):
        raise SystemExit(
            f"The project venv is missing ({env['TMDB_PROJECT_PYTHON']}): run `make venv` first."
        )
    _say(f"rendering the dbt project into {env['TMDB_AIRFLOW_RENDER_DIR']} (tmdb render-dbt)")
    _run([*project_command(env), "render-dbt", "--out", env["TMDB_AIRFLOW_RENDER_DIR"]], env)
    render = json.loads((Path(env["TMDB_AIRFLOW_RENDER_DIR"]) / "dbt_render.json").read_text())
    _say(f"dbt: {render['nodes']} nodes, packages {render['packages']}, project {render['project_dir']}")
    if render["exclude"]:
        _say(
            f"dbt-expectations missing ({render['packages_detail']}): "
            f"{len(render['skipped_tests'])} tests skipped"
        )
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    _say(f"metadata database in {env['AIRFLOW_HOME']} (airflow db migrate), pool {env['TMDB_AIRFLOW_POOL']}")
    _run([str(AIRFLOW_BIN / "airflow"), "db", "migrate"], env)
    _run(
        [
            str(AIRFLOW_BIN / "airflow"),
            "pools",
            "set",
            env["TMDB_AIRFLOW_POOL"],
            "1",
            "tmdb warehouse: one writer at a time (DuckDB)",
        ],
        env,
    )
    _say(f"prepared in {time.monotonic() - started:.1f} s")


def last_run(env: dict[str, str]) -> dict[str, object]:
    """The latest run of the DAG as the metadata database holds it: state, duration, task states."""
    database = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(database) as con:
        row = con.execute(
            "select run_id, state, start_date, end_date from dag_run where dag_id = ?"
            " order by id desc limit 1",
            [DAG_ID],
        ).fetchone()
        if row is None:
            return {}
        run_id, state, start, end = row
        states = dict(
            con.execute(
                "select coalesce(state, 'none'), count(*) from task_instance where dag_id = ? and run_id = ?"
                " group by 1",
                [DAG_ID, run_id],
            ).fetchall()
        )
        failed = [
            r[0]
            for r in con.execute(
                "select task_id from task_instance where dag_id = ? and run_id = ? and state = 'failed'",
                [DAG_ID, run_id],
            ).fetchall()
        ]
    duration = None
    if start and end:
        from datetime import datetime

        duration = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return {"run_id": run_id, "state": state, "duration_s": duration, "tasks": states, "failed": failed}


def test(env: dict[str, str], source: str) -> int:
    prepare(env)
    _say(f"airflow dags test {DAG_ID} (source {source}), output in {env['AIRFLOW_HOME']}/dags-test.log")
    started = time.monotonic()
    log_file = Path(env["AIRFLOW_HOME"]) / "dags-test.log"
    with open(log_file, "w") as log:
        code = subprocess.run(
            [str(AIRFLOW_BIN / "airflow"), "dags", "test", DAG_ID, "--conf", json.dumps({"source": source})],
            env=env,
            cwd=PROJECT_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    elapsed = time.monotonic() - started
    run = last_run(env)
    print(json.dumps({"airflow_dags_test_exit": code, "wall_s": round(elapsed, 1), **run}), flush=True)
    if run.get("state") != "success":
        _say(f"the DAG run did not succeed: failed tasks {run.get('failed')}; see {log_file}")
        return 1
    _say(f"DAG run succeeded in {run['duration_s']:.1f} s ({elapsed:.1f} s with Airflow's start-up)")
    return 0


def standalone(env: dict[str, str], port: int) -> int:
    prepare(env)
    passwords = Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
    url = f"http://127.0.0.1:{port}"
    _say(
        f"starting airflow standalone on {url} (logs in {env['AIRFLOW_HOME']}/standalone.log); "
        "Ctrl-C stops it"
    )
    with open(Path(env["AIRFLOW_HOME"]) / "standalone.log", "a") as log:
        server = subprocess.Popen(
            [str(AIRFLOW_BIN / "airflow"), "standalone"],
            env=env,
            cwd=PROJECT_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # a SIGTERM (a test's teardown, a process manager) stops Airflow too, as Ctrl-C does
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        shown = False
        while server.poll() is None:
            if not shown and passwords.is_file() and _healthy(url):
                users = json.loads(passwords.read_text() or "{}")
                _say(f"Airflow is up: open {url}/dags/{DAG_ID} and log in as")
                for user, password in users.items():
                    print(f"    user {user}   password {password}", flush=True)
                _say(f"(the password is kept in {passwords}, outside the repository)")
                shown = True
            time.sleep(1)
        return server.returncode or 0
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)


# What the compose stack keeps secret, each in a file of its own in TMDB_SECRETS_DIR: the metadata
# database's password (PostgreSQL reads it at its first start: POSTGRES_PASSWORD_FILE), Airflow's connection
# to it, the key signing the tokens its components trade, the key encrypting its connections' passwords,
# and the admin's password (the simple auth manager's file). Airflow reads them through `*_CMD` variables
# (compose.yaml): never from its environment, an image or a log.
SECRET_NAMES = (
    "postgres_password",
    "sql_alchemy_conn",
    "jwt_secret",
    "fernet_key",
    "simple_auth_manager_passwords.json",
)
SECRETS_OWNER = 1000  # the images' user tmdb, which runs every Airflow component


def generate_secrets(folder: Path, database_host: str = "postgres", user: str = "admin") -> list[str]:
    """Write each missing secret (mode 0600, owned by the Airflow user); the names of those written.

    Those present are kept: a second start, or one after `down`, finds the same passwords, as the database
    made at the first start needs. A partial folder (one file lost) gets only what it lacks, except that
    the connection is always derived from the database password it holds."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    values = {name: (folder / name).read_text() for name in SECRET_NAMES if (folder / name).is_file()}
    password = values.get("postgres_password") or token_source.token_urlsafe(32)
    wanted = {
        "postgres_password": password,
        "sql_alchemy_conn": f"postgresql+psycopg2://airflow:{password}@{database_host}:5432/airflow",
        "jwt_secret": token_source.token_urlsafe(48),
        "fernet_key": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "simple_auth_manager_passwords.json": json.dumps({user: token_source.token_urlsafe(18)}),
    }
    for name in SECRET_NAMES:
        if name in values and (name != "sql_alchemy_conn" or values[name] == wanted[name]):
            continue
        partial = folder / f".{name}.tmp"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(wanted[name])
        partial.replace(folder / name)
        written.append(name)
    if os.geteuid() == 0:
        for path in (folder, *(folder / name for name in SECRET_NAMES)):
            os.chown(path, SECRETS_OWNER, SECRETS_OWNER)
    folder.chmod(0o700)
    return written


def wait_for_database(env: dict[str, str], timeout: float = 180) -> None:
    """Until the metadata database answers (compose may start the init before PostgreSQL is ready)."""
    from airflow.configuration import conf
    from sqlalchemy import create_engine, text

    url = conf.get("database", "sql_alchemy_conn")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with create_engine(url).connect() as connection:
                connection.execute(text("select 1"))
            return
        except Exception as error:  # noqa: BLE001 -- any failure to connect: wait and try again
            if time.monotonic() > deadline:
                # the error's class only: its text may hold the connection's address and user
                raise SystemExit(
                    f"The metadata database did not answer within {timeout:.0f} s ({type(error).__name__})"
                ) from None
            _say("waiting for the metadata database")
            time.sleep(3)


def init_marker(env: dict[str, str]) -> Path:
    """Written by `init` when the database is migrated and the DAG's render and pool are in place."""
    return Path(env["AIRFLOW_HOME"]) / ".tmdb-init-done"


def init(env: dict[str, str]) -> None:
    init_marker(env).unlink(missing_ok=True)
    wait_for_database(env)
    prepare(env)
    init_marker(env).write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "\n")


def component(env: dict[str, str], name: str, args: Sequence[str], timeout: float = 900) -> int:
    """One Airflow component in this process's place, with the environment the DAG reads, once the init
    has finished. The components wait here rather than through compose's depends_on on the one-shot init:
    podman (4.3) restarts a container's exited dependencies whenever it starts one, and fails to when
    those have dependencies of their own."""
    deadline = time.monotonic() + timeout
    if not init_marker(env).is_file():
        _say(f"{name}: waiting for airflow-init (the database migration, the DAG's render)")
    while not init_marker(env).is_file():
        if time.monotonic() > deadline:
            raise SystemExit(f"airflow-init did not finish within {timeout:.0f} s: see its log")
        time.sleep(2)
    os.chdir(PROJECT_DIR)
    os.execvpe(str(AIRFLOW_BIN / "airflow"), ["airflow", name, *args], env)


def _healthy(url: str) -> bool:
    from urllib.request import urlopen

    try:
        with urlopen(f"{url}/api/v2/monitor/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="launch.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prepare")
    commands.add_parser("env")
    run = commands.add_parser("test")
    run.add_argument("--source", default="sample")
    serve = commands.add_parser("standalone")
    serve.add_argument("--port", type=int, default=int(os.environ.get("AIRFLOW_PORT", "8080")))
    commands.add_parser("secrets")
    commands.add_parser("init")
    one = commands.add_parser("component")
    one.add_argument("name", choices=["api-server", "scheduler", "dag-processor", "triggerer"])
    one.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "standalone":
        return standalone(airflow_env(args.port), args.port)
    if args.command == "secrets":
        folder = Path(os.environ.get("TMDB_SECRETS_DIR", "/secrets"))
        written = generate_secrets(folder, os.environ.get("TMDB_POSTGRES_HOST", "postgres"))
        _say(
            f"secrets in {folder}: generated {', '.join(written)}"
            if written
            else f"secrets in {folder}: kept"
        )
        return 0
    env = airflow_env()
    if args.command == "env":
        for key in sorted(k for k in env if k.startswith(("AIRFLOW", "TMDB_")) and k not in os.environ):
            print(f"export {key}={shlex.quote(env[key])}")
        return 0
    if args.command == "prepare":
        prepare(env)
        return 0
    if args.command == "init":
        init(env)
        return 0
    if args.command == "component":
        return component(env, args.name, args.args)
    return test(env, args.source)


if __name__ == "__main__":
    sys.exit(main())
