"""`compose up -d` as the seed's instructions run it: PostgreSQL, the one-shot secrets and init, Airflow's API
server, scheduler and DAG processor, and the dashboard; the tmdb_warehouse DAG's first run (unpaused at start)
builds the warehouse on the built-in sample, and the dashboard serves what it published.

Then what must not be lost: a run triggered through the REST API succeeds; no generated password is in a
container's log or a task's log; a second `up -d` changes nothing; the scheduler killed in the middle of a
build and started again leaves a run that ends (success or failure, said by Airflow) and published marts that
are a green build's; `down` then `up -d` keeps the warehouse, the run history and Airflow's metadata.

The tests run in this file's order, on one stack (module scope). What was measured goes to
target/containers-timings.json (conftest.record_timing): among them the seconds from `up -d` to the first
green DAG run.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    FAKE_API_TOKEN,
    FAKE_KAGGLE_KEY,
    FAKE_KAGGLE_USER,
    REPO_ROOT,
    Compose,
    free_port,
    record_timing,
)
from tmdb_devtools import browser, containers

DAG_ID = "tmdb_warehouse"
LONG_RUNNING = ("postgres", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "dashboard")
ONE_SHOT = ("secrets", "airflow-init")
SECRET_FILES = ("postgres_password", "jwt_secret", "fernet_key", "simple_auth_manager_passwords.json")
STAMP = "/data/sample/.last-green-build-duckdb.json"
# The tasks before the dbt build: a scheduler killed while one runs leaves it to be run again.
STAGING_TASKS = ("get_data", "stage", "build_needed")
LATEST = "/data/sample/publish/latest"


class Stack(Compose):
    """The whole compose.yaml, up, with the REST API of its Airflow on a free port of the host."""

    airflow_url: str = ""
    dashboard_url: str = ""
    started: float = 0.0

    def container(self, service: str) -> str:
        listed = self.engine.run(
            "ps", "--all",
            "--filter", f"label=com.docker.compose.project={self.project}",
            "--filter", f"label=com.docker.compose.service={service}",
            "--format", "{{.Names}}",
        ).stdout.split()  # fmt: skip
        assert len(listed) == 1, f"{service}: {listed}"
        return listed[0]

    def inspect(self, service: str) -> dict[str, Any]:
        return dict(json.loads(self.engine.run("inspect", self.container(service)).stdout)[0])

    def exec(self, service: str, *command: str) -> str:
        return self.engine.run("exec", self.container(service), *command).stdout

    def secret(self, name: str) -> str:
        # the secrets volume is mounted read-only in the Airflow services, readable by their user
        return self.exec("airflow-scheduler", "cat", f"/secrets/{name}")

    def admin(self) -> tuple[str, str]:
        return next(iter(json.loads(self.secret("simple_auth_manager_passwords.json")).items()))

    def token(self) -> str:
        user, password = self.admin()
        answer = request(
            "POST", f"{self.airflow_url}/auth/token", body={"username": user, "password": password}
        )
        return str(answer["access_token"])

    def api(self, method: str, path: str, body: Any = None) -> Any:
        return request(method, f"{self.airflow_url}/api/v2{path}", self.token(), body)

    def runs(self) -> list[dict[str, Any]]:
        return list(self.api("GET", f"/dags/{DAG_ID}/dagRuns?order_by=start_date&limit=100")["dag_runs"])

    def wait_for_run(self, run_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run: dict[str, Any] = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            assert time.monotonic() < deadline, f"run {run_id} still {run['state']} after {timeout:.0f} s"
            time.sleep(3)

    def tasks(self, run_id: str) -> dict[str, str]:
        """Every task instance of a run: page by page, as the API answers at most its page limit (100 by
        default) whatever `limit` asks, and the DAG has more tasks than that."""
        states: dict[str, str] = {}
        while True:
            page = self.api(
                "GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances?limit=100&offset={len(states)}"
            )
            states |= {t["task_id"]: str(t["state"]) for t in page["task_instances"]}
            if not page["task_instances"] or len(states) >= page["total_entries"]:
                return states

    def published(self) -> dict[str, Any]:
        """publish/latest as the dashboard's container sees it: the folder it names and its manifest."""
        script = (
            "import json, os, sys; latest = os.path.realpath(sys.argv[1]); "
            "print(json.dumps({'folder': latest, "
            "'manifest': json.load(open(os.path.join(latest, 'manifest.json')))}))"
        )
        return dict(json.loads(self.exec("dashboard", "python3", "-c", script, LATEST)))


def request(method: str, url: str, token: str | None = None, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    sent = urllib.request.Request(url, data=data, method=method)
    sent.add_header("Content-Type", "application/json")
    if token:
        sent.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(sent, timeout=30) as response:
        return json.loads(response.read() or b"null")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


def healthcheck_passes(engine: containers.Engine, container: str) -> bool:
    """podman runs a healthcheck on demand (its timers need systemd); docker's own timer reports it."""
    if engine.name == "podman":
        return engine.run("healthcheck", "run", container, check=False).returncode == 0
    state = engine.run("inspect", "--format", "{{.State.Health.Status}}", container).stdout.strip()
    return state == "healthy"


def wait_healthy(stack: Stack, timeout: float) -> dict[str, float]:
    """Every long-running service healthy and every one-shot exited 0; when each was first seen so."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < len(LONG_RUNNING) + len(ONE_SHOT):
        for service in ONE_SHOT:
            state = stack.inspect(service)["State"]
            if service not in seen and state["Status"] == "exited":
                assert state["ExitCode"] == 0, f"{service} failed:\n{logs(stack, service)[-3000:]}"
                seen[service] = time.monotonic() - stack.started
        for service in LONG_RUNNING:
            if service not in seen and healthcheck_passes(stack.engine, stack.container(service)):
                seen[service] = time.monotonic() - stack.started
        if time.monotonic() > deadline:
            missing = sorted(set(LONG_RUNNING + ONE_SHOT) - set(seen))
            raise AssertionError(
                f"not healthy after {timeout:.0f} s: {missing}\n"
                + "\n".join(f"--- {s}:\n{logs(stack, s)[-2000:]}" for s in missing)
            )
        time.sleep(2)
    return seen


def logs(stack: Stack, service: str) -> str:
    done = stack.engine.run("logs", stack.container(service), check=False)
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def stack(
    engine: containers.Engine,
    image: str,
    airflow_image: str,
    postgres_image: str | None,
    run_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("stack")
    shutil.copy(REPO_ROOT / "compose.yaml", folder / "compose.yaml")
    (folder / "kaggle.env").write_text(f"KAGGLE_USERNAME={FAKE_KAGGLE_USER}\nKAGGLE_KEY={FAKE_KAGGLE_KEY}\n")
    airflow_port, dashboard_port = free_port(), free_port()
    env = {
        "TMDB_IMAGE": image,
        "TMDB_AIRFLOW_IMAGE": airflow_image,
        "AIRFLOW_PORT": str(airflow_port),
        "AIRFLOW_BASE_URL": f"http://127.0.0.1:{airflow_port}",
        "DASHBOARD_PORT": str(dashboard_port),
        "SOURCE": "sample",
    }
    if postgres_image:
        env["POSTGRES_IMAGE"] = postgres_image
    up = Stack(engine, folder, f"{run_id}s", env)
    up.airflow_url = f"http://127.0.0.1:{airflow_port}"
    up.dashboard_url = f"http://127.0.0.1:{dashboard_port}"
    up.started = time.monotonic()
    done = up.run("up", "-d", timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    record_timing("stack: compose up -d returned (s)", time.monotonic() - up.started)
    try:
        yield up
    finally:
        up.run("down", "--volumes", timeout=300)
        for volume in ("data", "airflow", "postgres", "secrets", "dbt-offline"):
            engine.run("volume", "rm", "--force", f"{up.project}_{volume}", check=False)


@pytest.fixture(scope="module")
def first_green_run(stack: Stack) -> dict[str, Any]:
    """The DAG's first run, which the scheduler starts by itself (the DAG is unpaused at creation)."""
    health = wait_healthy(stack, timeout=300)
    for service, seconds in health.items():
        record_timing(f"stack: {service} healthy (s)", seconds)
    deadline = time.monotonic() + 600
    while True:
        runs = stack.runs() if answers(f"{stack.airflow_url}/api/v2/monitor/health") else []
        ended = [r for r in runs if r["state"] in ("success", "failed")]
        if ended:
            break
        assert time.monotonic() < deadline, f"no DAG run ended within 600 s: {runs}"
        time.sleep(2)
    record_timing("stack: compose up -d to the first green DAG run (s)", time.monotonic() - stack.started)
    run = ended[0]
    assert run["state"] == "success", stack.tasks(run["dag_run_id"])
    return dict(run)


def test_every_service_is_healthy_and_the_first_run_builds_the_warehouse(
    stack: Stack, first_green_run: dict[str, Any]
) -> None:
    assert first_green_run["run_type"] == "scheduled"
    tasks = stack.tasks(first_green_run["dag_run_id"])
    assert {"get_data", "stage", "build_needed", "record_build", "publish", "docs"} <= set(tasks)
    assert set(tasks.values()) == {"success"}, tasks
    published = stack.published()
    assert len(published["manifest"]["relations"]) == 12
    assert published["manifest"]["source"]["kind"] == "sample"
    # a real metadata database: Airflow's tables are in PostgreSQL
    query = f"select count(*) from dag_run where dag_id = '{DAG_ID}'"
    rows = stack.exec("postgres", "psql", "-U", "airflow", "-d", "airflow", "--tuples-only", "-c", query)
    assert int(rows.strip()) >= 1
    health = request("GET", f"{stack.airflow_url}/api/v2/monitor/health")
    assert health["metadatabase"]["status"] == "healthy"
    assert health["scheduler"]["status"] == "healthy"
    assert health["dag_processor"]["status"] == "healthy"


def test_a_run_triggered_through_the_rest_api_succeeds(stack: Stack, first_green_run: dict[str, Any]) -> None:
    """Nothing new staged since the first run: it succeeds with dbt, publish and docs skipped."""
    run = stack.api("POST", f"/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": {"source": "sample"}})
    ended = stack.wait_for_run(run["dag_run_id"], timeout=300)
    assert ended["state"] == "success", stack.tasks(run["dag_run_id"])
    tasks = stack.tasks(run["dag_run_id"])
    assert tasks["build_needed"] == "success" and tasks["publish"] == "skipped", tasks


def test_the_dashboard_serves_the_published_marts(stack: Stack, first_green_run: dict[str, Any]) -> None:
    """Streamlit's page in Chromium draws the marts of the run (a chart: Vega's svg or canvas)."""
    assert answers(f"{stack.dashboard_url}/_stcore/health")
    chromium = browser.find_chromium()
    if chromium is None:
        pytest.fail(browser.INSTALL_HINT)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chrome = playwright.chromium.launch(executable_path=chromium, args=browser.CHROMIUM_FLAGS)
        try:
            page = chrome.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(stack.dashboard_url)
            page.wait_for_selector(
                '[data-testid="stVegaLiteChart"] svg g.role-mark, [data-testid="stVegaLiteChart"] canvas',
                timeout=90_000,
            )
            shot = REPO_ROOT / "target" / "screenshots" / "compose-dashboard.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot))
            text = page.inner_text("body")
        finally:
            chrome.close()
    assert "TMDB movies & series" in text and "Nothing has been published yet" not in text


def test_a_screenshot_of_the_dag_run_in_the_ui(stack: Stack, first_green_run: dict[str, Any]) -> None:
    chromium = browser.find_chromium()
    if chromium is None:
        pytest.fail(browser.INSTALL_HINT)
    from playwright.sync_api import sync_playwright

    shot = REPO_ROOT / "target" / "screenshots" / "compose-airflow-dag-run.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    user, password = stack.admin()
    with sync_playwright() as playwright:
        chrome = playwright.chromium.launch(executable_path=chromium, args=browser.CHROMIUM_FLAGS)
        try:
            page = chrome.new_page(viewport={"width": 1920, "height": 1200})
            page.goto(f"{stack.airflow_url}/")
            page.fill("input[name='username']", user)
            page.fill("input[name='password']", password)
            page.keyboard.press("Enter")
            page.wait_for_url(lambda url: "/auth/login" not in url, timeout=30_000)
            page.goto(f"{stack.airflow_url}/dags/{DAG_ID}/runs/{first_green_run['dag_run_id']}")
            page.wait_for_selector(f"text={first_green_run['dag_run_id']}", timeout=60_000)
            page.wait_for_timeout(3000)  # the grid and the run's details arrive after the page
            page.screenshot(path=str(shot))
            text = page.inner_text("body")
        finally:
            chrome.close()
    assert shot.stat().st_size > 20_000
    assert DAG_ID in text and "success" in text.lower()


def test_no_secret_is_in_a_log_nor_readable_by_others(stack: Stack, first_green_run: dict[str, Any]) -> None:
    """Each generated secret, and its base64, is in no container's output and in no task log; the files
    are the Airflow user's alone."""
    values = [stack.secret(name) for name in SECRET_FILES]
    values += list(json.loads(stack.secret("simple_auth_manager_passwords.json")).values())
    assert all(len(value) >= 16 for value in values)
    needles = {*values, *(base64.b64encode(v.encode()).decode() for v in values)}
    needles |= {FAKE_KAGGLE_KEY, FAKE_API_TOKEN}
    for service in (*LONG_RUNNING, *ONE_SHOT):
        output = logs(stack, service)
        assert output.strip() or service == "dashboard", f"{service} logged nothing: the check would be empty"
        assert [n[:4] for n in needles if n in output] == [], service
    patterns = [arg for needle in needles for arg in ("-e", needle)]
    task_logs = subprocess.run(
        stack.engine.command(
            "exec", stack.container("airflow-scheduler"), "grep", "-r", "-l", "-F", *patterns, "/airflow/logs"
        ),
        env={**os.environ, **stack.engine.env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert task_logs.returncode == 1, f"found in {task_logs.stdout}{task_logs.stderr}"  # 1: no match
    files = [f"/secrets/{name}" for name in SECRET_FILES]
    listing = stack.exec("airflow-scheduler", "stat", "-c", "%a %u %n", "/secrets", *files)
    assert listing.split("\n")[0].startswith("700 1000 /secrets")
    assert all(line.startswith("600 1000") for line in listing.strip().split("\n")[1:]), listing


def _state(stack: Stack) -> dict[str, Any]:
    """What a second `up -d` must leave as it is: each container's id and start, the secrets."""
    containers_now = {}
    for service in (*LONG_RUNNING, *ONE_SHOT):
        found = stack.inspect(service)
        containers_now[service] = (
            found["Id"],
            found["State"]["StartedAt"] if service in LONG_RUNNING else "",
        )
    return {"containers": containers_now, "secrets": {name: stack.secret(name) for name in SECRET_FILES}}


def test_a_second_up_changes_nothing(stack: Stack, first_green_run: dict[str, Any]) -> None:
    before, runs_before = _state(stack), len(stack.runs())
    published = stack.published()
    done = stack.run("up", "-d", timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    wait_healthy(stack, timeout=300)
    assert _state(stack) == before
    assert stack.published() == published
    assert len(stack.runs()) == runs_before


STAGING_ATTEMPTS = 3


def _caught_staging(stack: Stack, run_id: str) -> bool:
    """True once a staging task of the run is seen running; False when the build began first."""
    deadline = time.monotonic() + 300
    while True:
        tasks = stack.tasks(run_id)
        if any(tasks.get(task) == "running" for task in STAGING_TASKS):
            return True
        if any(t.startswith("dbt.") and s != "None" for t, s in tasks.items()):
            return False
        assert time.monotonic() < deadline, f"the run did not start staging: {tasks}"
        time.sleep(0.2)


def test_the_scheduler_killed_mid_run_leaves_a_clear_run_and_green_marts(
    stack: Stack, first_green_run: dict[str, Any]
) -> None:
    """The last green build's stamp removed, so that the next run rebuilds; the scheduler container (where
    the LocalExecutor runs the tasks) is killed while the run stages its data, then started again: the run
    ends, failed or successful as Airflow says, and publish/latest is a green build's: the one before if the
    run failed, a new one with the same marts if it succeeded. A run after it succeeds.

    Not while the dbt build runs: Cosmos's watcher producer never runs twice, so after the reset each dbt
    task runs its own node, longer than the gate can wait (docs/containers.md)."""
    for _ in range(STAGING_ATTEMPTS):
        before = stack.published()
        stack.exec("airflow-scheduler", "rm", "-f", STAMP)
        run = stack.api(
            "POST", f"/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": {"source": "sample"}}
        )
        run_id = run["dag_run_id"]
        if _caught_staging(stack, run_id):
            break
        # Staging ended between two looks (on a busy machine the REST API answers slowly): that run is not
        # the one to interrupt; it must end green, and the next one is watched.
        assert stack.wait_for_run(run_id, timeout=600)["state"] == "success", stack.tasks(run_id)
    else:
        pytest.fail(
            f"in {STAGING_ATTEMPTS} runs, staging always ended between two looks: no kill mid-staging"
        )
    scheduler = stack.container("airflow-scheduler")
    killed = time.monotonic()
    stack.engine.run("kill", scheduler)
    assert stack.published() == before  # nothing half-published while the scheduler is down
    stack.engine.run("start", scheduler)
    ended = stack.wait_for_run(run_id, timeout=600)
    tasks = stack.tasks(run_id)
    after = stack.published()
    if ended["state"] == "failed":
        assert any(state == "failed" for state in tasks.values()), tasks
        assert tasks["publish"] in ("upstream_failed", "skipped"), tasks
        assert after == before
    else:
        assert tasks["publish"] == "success", tasks
    rows = {name: relation["rows"] for name, relation in after["manifest"]["relations"].items()}
    assert rows == {name: relation["rows"] for name, relation in before["manifest"]["relations"].items()}
    record_timing("stack: scheduler killed to the run's end (s)", time.monotonic() - killed)
    print(f"\nthe run with the scheduler killed mid-run: {ended['state']}", flush=True)
    again = stack.api("POST", f"/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": {"source": "sample"}})
    assert stack.wait_for_run(again["dag_run_id"], timeout=600)["state"] == "success", stack.tasks(
        again["dag_run_id"]
    )
    assert stack.exec("airflow-scheduler", "test", "-f", STAMP) == ""  # a green build recorded again


def test_down_then_up_keeps_the_warehouse_the_history_and_the_metadata(
    stack: Stack, first_green_run: dict[str, Any]
) -> None:
    published, runs = stack.published(), stack.runs()
    secrets = {name: stack.secret(name) for name in SECRET_FILES}
    history = stack.exec("dashboard", "ls", "/data/sample/publish")
    done = stack.run("down", timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    stack.started = time.monotonic()
    done = stack.run("up", "-d", timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    wait_healthy(stack, timeout=300)
    assert {name: stack.secret(name) for name in SECRET_FILES} == secrets
    assert stack.published() == published
    assert stack.exec("dashboard", "ls", "/data/sample/publish") == history
    kept = {r["dag_run_id"]: r["state"] for r in stack.runs()}
    assert {r["dag_run_id"]: r["state"] for r in runs}.items() <= kept.items()
    assert Path(published["folder"]).name in history
