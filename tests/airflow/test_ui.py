"""Airflow run as a user runs it (`launch.py standalone`, what `make airflow` starts): the DAG is triggered
from the REST API and watched to success, then its graph is opened in headless Chromium and photographed.

The screenshot goes to target/screenshots/airflow-dag-graph.png, or to docs/images/airflow-dag-graph.png with
TMDB_AIRFLOW_SCREENSHOT=docs (how the picture in docs/airflow.md is made).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import DAG_ID, LAUNCH, PROJECT_PYTHON, REPO_ROOT, Sandbox, free_port, run


def _chromium() -> tuple[str | None, list[str], str]:
    """The project's Chromium, its flags and the install hint (tmdb_devtools.browser), asked of the
    project's venv: Airflow's venv has no tmdb_pipeline."""
    code = (
        "import json; from tmdb_devtools import browser as b;"
        "print(json.dumps([b.find_chromium(), b.CHROMIUM_FLAGS, b.INSTALL_HINT]))"
    )
    found, flags, hint = json.loads(run([str(PROJECT_PYTHON), "-c", code], dict(os.environ)).stdout)
    return found, flags, hint


def _request(method: str, url: str, token: str | None = None, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


class Server:
    def __init__(self, url: str, home: Path, process: subprocess.Popen[bytes]) -> None:
        self.url, self.home, self.process = url, home, process

    @property
    def password(self) -> tuple[str, str]:
        users = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())
        return next(iter(users.items()))

    def token(self) -> str:
        user, password = self.password
        return _request("POST", f"{self.url}/auth/token", body={"username": user, "password": password})[
            "access_token"
        ]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    box = Sandbox(tmp_path_factory.mktemp("standalone"))
    port = free_port()
    log = open(box.root / "launch.log", "wb")  # noqa: SIM115 -- open for the server's lifetime
    process = subprocess.Popen(
        [sys.executable, str(LAUNCH), "standalone", "--port", str(port)],
        env=box.env(),
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    started = Server(url, box.airflow_home, process)
    try:
        deadline = time.monotonic() + 240
        while b"Airflow is up" not in (box.root / "launch.log").read_bytes():
            assert process.poll() is None, (box.root / "launch.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "Airflow did not come up within 240 s"
            time.sleep(1)
        yield started
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def triggered(server: Server) -> dict[str, Any]:
    """Unpause the DAG, trigger a run on the sample through the REST API, poll it until it ends."""
    token = server.token()
    api = f"{server.url}/api/v2/dags/{DAG_ID}"
    deadline = time.monotonic() + 60
    while True:  # the DAG processor may not have parsed the DAG yet
        try:
            _request("PATCH", api, token, {"is_paused": False})
            break
        except urllib.error.HTTPError as error:
            if error.code != 404 or time.monotonic() > deadline:
                raise
            time.sleep(2)
    run = _request("POST", f"{api}/dagRuns", token, {"logical_date": None, "conf": {"source": "sample"}})
    started = time.monotonic()
    while run["state"] not in ("success", "failed"):
        assert time.monotonic() - started < 420, f"run still {run['state']} after 420 s"
        time.sleep(3)
        run = _request("GET", f"{api}/dagRuns/{run['dag_run_id']}", token)
    run["watched_s"] = time.monotonic() - started
    return run


def test_the_dag_triggered_from_the_rest_api_succeeds(triggered: dict[str, Any], server: Server) -> None:
    assert triggered["state"] == "success", triggered
    token = server.token()
    tasks = _request(
        "GET",
        f"{server.url}/api/v2/dags/{DAG_ID}/dagRuns/{triggered['dag_run_id']}/taskInstances?limit=200",
        token,
    )["task_instances"]
    assert {t["state"] for t in tasks} == {"success"}
    # the run's own duration, as Airflow recorded it, beside the `airflow dags test` run's (test_runs.py)
    started, ended = (datetime.fromisoformat(triggered[key]) for key in ("start_date", "end_date"))
    duration = round((ended - started).total_seconds(), 1)
    timings_file = REPO_ROOT / "target" / "airflow-timings.json"
    timings = json.loads(timings_file.read_text()) if timings_file.is_file() else {}
    timings["standalone_run_s"] = duration
    timings_file.parent.mkdir(exist_ok=True)
    timings_file.write_text(json.dumps(timings, indent=1))
    print(f"\nREST-triggered run under `airflow standalone`: {duration} s, {len(tasks)} tasks")


def test_a_screenshot_of_the_dag_graph(triggered: dict[str, Any], server: Server) -> None:
    chromium, flags, hint = _chromium()
    if chromium is None:
        pytest.fail(hint)
    from playwright.sync_api import sync_playwright

    to_docs = os.environ.get("TMDB_AIRFLOW_SCREENSHOT") == "docs"
    shot = REPO_ROOT / ("docs/images" if to_docs else "target/screenshots") / "airflow-dag-graph.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=flags,
        )
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1200}, device_scale_factor=1.5)
            user, password = server.password
            page.goto(f"{server.url}/")
            page.fill("input[name='username']", user)
            page.fill("input[name='password']", password)
            page.keyboard.press("Enter")
            page.wait_for_url(lambda url: "/auth/login" not in url, timeout=30_000)
            page.goto(f"{server.url}/dags/{DAG_ID}")
            page.get_by_role("button", name="Show Graph (Press g)").click()
            page.wait_for_selector(".react-flow__node", timeout=60_000)
            page.get_by_role("button", name="Collapse Details Panel").click()
            # open the dbt task group one level: one box per model (its run and test tasks), seeds, snapshot
            page.locator(".react-flow__node", has_text="Task Group").first.locator("button").first.click()
            page.wait_for_function(
                "document.querySelectorAll('.react-flow__node').length > 40", timeout=30_000
            )
            page.wait_for_timeout(2000)  # the layout settles after the nodes appear
            page.screenshot(path=str(shot))
            nodes = page.locator(".react-flow__node").count()
        finally:
            browser.close()
    assert shot.stat().st_size > 20_000
    assert nodes > 40, f"the graph shows {nodes} nodes"
    print(f"\nscreenshot: {shot} ({nodes} graph nodes)")
