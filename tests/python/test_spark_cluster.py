"""The same models on a local Spark cluster, through its Thrift server: same results as DuckDB, and builds
that survive losing a worker, or fail clearly and recover when the Thrift server is lost.

This file is the `spark-cluster` gate (`make test-spark-cluster`, `python -m tmdb_devtools test --only
spark-cluster`); the `pytest` gate leaves it out. One cluster (`tmdb spark-cluster start`: a master, two
workers, a Thrift server), on free ports found at start, serves a generated dataset's data folder for the
whole file and is stopped at the end, also after a failure (the gate stops whatever is left under its folder,
too).

1. First build: the dataset (1,000 movies + 250 series) built on DuckDB (`tmdb run`) and through the Thrift
   server (`tmdb build --target spark-thrift`: seeds, every model, the snapshot, every data and unit test);
   every core, mart and snapshot table compared row for row (tests/python/_spark_compare.py, as the spark
   gate does). Then the master's UI (both workers, the Thrift server's application) and the Thrift server's
   UI (the build's jobs) are photographed in headless Chromium.
2. Incremental: the dataset's second version staged as a second batch and built on both with the spark
   gate's selection (+dim_title_history), the cluster build from another working directory; compared again.
3. A worker lost: a full build through the Thrift server, and once a task runs on worker 2's executor,
   that executor is frozen mid-task and worker 2 killed (`tmdb spark-cluster stop worker-2 --kill`:
   SIGKILL, with its executor). The build must finish, Spark must have re-run the lost
   tasks on worker 1, and every table must still match DuckDB's full build of the same data.
4. The Thrift server lost: a full build, and once the snapshot is written and tables are being created,
   the Thrift server is killed. dbt must fail, the pipeline must name the endpoint, and nothing may count as
   built (the build stamp records no green build; the summary says FAILED; nothing is published). After
   `tmdb spark-cluster start` (which restarts only the Thrift server) the next build must complete, match
   DuckDB again and publish.

Where Spark, the Thrift client or a Chromium is missing, the tests skip with the reason -- or fail with it
when TMDB_REQUIRE_SPARK=1, as the gate sets.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

from _spark_compare import (
    FIRST_BUILD_SCHEMAS,
    SECOND_BUILD_SCHEMAS,
    SECOND_BUILD_SELECTION,
    compare_tables,
    passed_as_on_duckdb,
    untested_models,
)
from conftest import REPO_ROOT, pipeline_env
from tmdb_devtools.browser import CHROMIUM_FLAGS, INSTALL_HINT, find_chromium
from tmdb_pipeline.extract import sample
from tmdb_pipeline.project import project
from tmdb_pipeline.warehouse import packages, spark
from tmdb_pipeline.warehouse.spark_cluster import HOST, Settings, SparkCluster, master_json
from tmdb_pipeline.warehouse.spark_cluster.daemons import command_line, live_group_members
from tmdb_pipeline.warehouse.spark_cluster.probes import fetch_json, port_free
from tmdb_pipeline.workspace import DataRoot

pytestmark = pytest.mark.slow

TMDB = [sys.executable, "-m", "tmdb_pipeline"]
SIZE = {"movies": 1000, "series": 250}
BUILD_TIMEOUT_S = 1500
FULL_BUILD_SCHEMAS = ("staging", "intermediate", "core", "marts", "snapshots")


def _skip_or_fail(reason: str | None) -> None:
    if reason is None:
        return
    if os.environ.get("TMDB_REQUIRE_SPARK") == "1":
        pytest.fail(f"TMDB_REQUIRE_SPARK=1 and the cluster tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def _cluster_unavailable() -> str | None:
    reason = spark.unavailable_reason()
    if reason:
        return reason
    try:
        import pyhive  # noqa: F401
    except ImportError:
        return "the Thrift client is not installed: run `make venv-spark-thrift`"
    return None


def free_ports(count: int, consecutive: int = 1) -> list[int]:
    """`count` ports free on 127.0.0.1 now; the first `consecutive` of them one after another (the workers'
    UIs take a base port and the ones after it)."""
    start = 20000 + (os.getpid() * 7) % 30000
    found: list[int] = []
    port = start
    while len(found) < count and port < 65000:
        run = consecutive if not found else 1
        if all(port_free(port + i) for i in range(run)):
            found.extend(range(port, port + run))
            port += run
        port += 1
    assert len(found) >= count, "no free ports found for the cluster"
    return found[:count]


@dataclass
class Background:
    """A `tmdb` command running while the test does something to the cluster; its output in a file."""

    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=60)


@dataclass
class ClusterRun:
    """One data folder built on DuckDB and on the cluster, with what each build reported."""

    root: Path
    ports: dict[str, int]
    results: dict[str, dict[str, str]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    compared: dict[str, list[str]] = field(default_factory=dict)
    differences: dict[str, list[str]] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)
    packages_env: dict[str, str] = field(default_factory=dict)

    @property
    def dataset(self) -> Path:
        return self.root / "dataset"

    @property
    def data_dir(self) -> Path:
        return (self.root / "data" / "current").resolve()

    @property
    def cluster(self) -> SparkCluster:
        return SparkCluster(DataRoot(self.root / "data").workspace(self.data_dir))

    @property
    def settings(self) -> Settings:
        return self.cluster.settings()

    def env(self, engine: str) -> dict[str, str]:
        return pipeline_env(
            TMDB_DATA_ROOT=str(self.root / "data"),
            DBT_TARGET_PATH=str(self.root / f"target-{engine}"),
            DBT_LOG_PATH=str(self.root / f"logs-{engine}"),
            **{Settings.ENV[key]: str(port) for key, port in self.ports.items()},
            **self.packages_env,
        )

    def tmdb(self, name: str, engine: str, *args: str, cwd: Path | None = None, ok: bool = True) -> str:
        """Run `tmdb ARGS` to the end; its output (and, for a build, its run results) kept under `name`."""
        started = time.monotonic()
        done = subprocess.run(
            [*TMDB, *args],
            cwd=cwd or self.root,  # never the repository: every path must come from the settings
            env=self.env(engine),
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
        output = done.stdout + done.stderr
        self.outputs[name] = output
        self.notes[f"{name} seconds"] = round(time.monotonic() - started, 1)
        tail = "\n".join(output.splitlines()[-60:])
        expected = "0" if ok else "not 0"
        assert (done.returncode == 0) == ok, f"{name}: exit {done.returncode}, expected {expected}:\n{tail}"
        if engine in ("duckdb", "cluster") and ok:
            self.read_results(name, engine)
        return output

    def start(self, name: str, engine: str, *args: str) -> Background:
        log = self.root / f"{name.replace(' ', '-')}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [*TMDB, *args],
                cwd=self.root,
                env=self.env(engine),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return Background(proc, log)

    def read_results(self, name: str, engine: str) -> None:
        results = orjson.loads((self.root / f"target-{engine}" / "run_results.json").read_bytes())
        self.results[name] = {item["unique_id"]: item["status"] for item in results["results"]}

    def generate(self, version: int) -> None:
        spec = sample.SampleSpec(movies=SIZE["movies"], series=SIZE["series"], version=version)
        sample.generate(self.dataset, spec, workers=2, force=True)

    def compare(self, name: str, schemas: tuple[str, ...], only: set[str] | None = None) -> None:
        warehouse = self.cluster.warehouse
        self.compared[name], self.differences[name] = compare_tables(
            self.data_dir / "tmdb.duckdb",
            lambda schema, table: warehouse / f"{schema}.db" / table,
            schemas,
            only,
        )

    def thrift_log(self) -> str:
        return self.cluster.log("thrift").read_text(encoding="utf-8", errors="replace")

    def stamp(self) -> dict[str, object]:
        return orjson.loads((self.data_dir / ".last-green-build-spark-thrift.json").read_bytes())

    def published(self) -> str | None:
        """The published version `latest` points at (warehouse.publish, after every green build)."""
        latest = self.data_dir / "publish" / "latest"
        return latest.resolve().name if latest.exists() else None


# --- the cluster, and the builds on it (each fixture one step, in order) ----------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterRun]:
    _skip_or_fail(_cluster_unavailable())
    worker_ui, _, master, master_ui, thrift, app_ui = free_ports(6, consecutive=2)
    keys = ("master_port", "master_ui_port", "worker_ui_port", "thrift_port", "app_ui_port")
    built = ClusterRun(
        tmp_path_factory.mktemp("spark_cluster"),
        dict(zip(keys, (master, master_ui, worker_ui, thrift, app_ui), strict=True)),
    )
    available = packages.prepare(project())
    built.packages_env = {} if available.complete else {"TMDB_SKIP_DBT_DEPS": "1"}
    built.generate(1)
    # staging the dataset makes its data folder, which the cluster then serves
    built.tmdb("duckdb v1", "duckdb", "run", "--source", str(built.dataset), "--target", "duckdb")
    try:
        built.tmdb("cluster start", "stage", "spark-cluster", "start")
        yield built
    finally:
        subprocess.run([*TMDB, "spark-cluster", "stop"], env=built.env("stage"), cwd=built.root, check=False)
        from tmdb_pipeline.warehouse.spark_cluster import stop_all_under

        stop_all_under(built.root)


@pytest.fixture(scope="module")
def first_build(run: ClusterRun) -> ClusterRun:
    run.tmdb("cluster v1", "cluster", "build", "--target", "spark-thrift")
    run.compare("v1", FIRST_BUILD_SCHEMAS)
    return run


@pytest.fixture(scope="module")
def second_build(first_build: ClusterRun) -> ClusterRun:
    run = first_build
    run.generate(2)
    run.tmdb("stage v2", "stage", "stage", "--source", str(run.dataset))
    run.tmdb("duckdb v2", "duckdb", "dbt", "build", "--target", "duckdb", *SECOND_BUILD_SELECTION)
    elsewhere = run.root / "elsewhere"
    elsewhere.mkdir()
    run.tmdb(
        "cluster v2",
        "cluster",
        "dbt",
        "build",
        "--target",
        "spark-thrift",
        *SECOND_BUILD_SELECTION,
        cwd=elsewhere,
    )
    run.notes["elsewhere"] = sorted(os.listdir(elsewhere))
    rebuilt = {
        n.rsplit(".", 1)[-1] for n in run.results["cluster v2"] if n.startswith(("model.", "snapshot."))
    }
    run.compare("v2", SECOND_BUILD_SCHEMAS, only=rebuilt)
    return run


def _executor_on(worker_ui_port: int) -> str | None:
    worker = fetch_json(f"http://{HOST}:{worker_ui_port}/json/") or {}
    executors = worker.get("executors") or []
    return str(executors[0]["id"]) if executors else None


def _active_tasks(settings: Settings, executor: str) -> int:
    base = f"http://{HOST}:{settings.app_ui_port}/api/v1/applications"
    for app in fetch_json(base) or []:
        for found in fetch_json(f"{base}/{app['id']}/executors", timeout_s=2) or []:
            if str(found.get("id")) == executor:
                return int(found.get("activeTasks", 0))
    return 0


def _executor_process(run: ClusterRun, worker: str) -> int:
    """The PID of the executor a worker started (a member of the worker's process group)."""
    daemon = run.cluster.read_state().daemons[worker]
    found = [
        pid for pid in live_group_members(daemon.pid) if "CoarseGrainedExecutorBackend" in command_line(pid)
    ]
    assert len(found) == 1, f"{worker} runs {len(found)} executors"
    return found[0]


def _frozen_mid_task(settings: Settings, executor: str, pid: int) -> bool:
    """Freeze the executor (SIGSTOP) when it runs a task; True when, frozen, it still holds one (no update
    can leave it now), else thaw it (SIGCONT) for another try."""
    if _active_tasks(settings, executor) == 0:
        return False
    os.kill(pid, signal.SIGSTOP)
    time.sleep(0.5)  # what it sent before it stopped has arrived by now
    if _active_tasks(settings, executor) > 0:
        return True
    os.kill(pid, signal.SIGCONT)
    return False


def _nodes_done(output: str) -> int:
    return len(re.findall(r"\d+ of \d+ (?:OK|PASS)", output))


@pytest.fixture(scope="module")
def worker_lost(second_build: ClusterRun) -> ClusterRun:
    """A full build through the Thrift server that loses worker 2 (and its executor) while it runs a task."""
    run = second_build
    run.tmdb("duckdb full v2", "duckdb", "build", "--target", "duckdb")
    settings = run.settings
    worker_2 = settings.worker_ui_port + 1
    executor = _executor_on(worker_2)
    assert executor is not None, "worker 2 runs no executor of the Thrift server"
    log_start = len(run.thrift_log())
    build = run.start("cluster full v2 worker lost", "cluster", "build", "--target", "spark-thrift")
    try:
        deadline = time.monotonic() + BUILD_TIMEOUT_S
        while _nodes_done(build.output()) < 20:  # well into the build, past its start-up
            assert build.proc.poll() is None, f"the build ended before the kill:\n{build.output()[-3000:]}"
            assert time.monotonic() < deadline, "the build made no progress"
            time.sleep(0.5)
        # Tasks here take milliseconds: the executor is frozen in the middle of one (as a machine that stops
        # answering), so that the task is certainly lost with the worker rather than just finished.
        executor_pid = _executor_process(run, "worker-2")
        while not _frozen_mid_task(settings, executor, executor_pid):
            assert build.proc.poll() is None, "the build ended before a task ran on worker 2"
            assert time.monotonic() < deadline, "no task ran on worker 2"
            time.sleep(0.05)
        killed = run.tmdb("kill worker-2", "stage", "spark-cluster", "stop", "worker-2", "--kill")
        run.notes["killed at node"] = _nodes_done(build.output())
        assert "worker-2  killed" in killed, killed
        run.notes["worker lost exit"] = build.wait(BUILD_TIMEOUT_S)
    finally:
        build.stop()
    run.outputs["cluster full v2 worker lost"] = build.output()
    run.notes["thrift log after worker loss"] = run.thrift_log()[log_start:]
    run.notes["workers alive after loss"] = len(
        [w for w in (master_json(settings) or {}).get("workers", []) if w.get("state") == "ALIVE"]
    )
    if run.notes["worker lost exit"] == 0:
        run.read_results("cluster full v2 worker lost", "cluster")
        run.compare("worker lost", FULL_BUILD_SCHEMAS)
    # worker 2 back for what follows: `start` starts only what is down
    run.tmdb("cluster restart worker", "stage", "spark-cluster", "start")
    return run


def _thrift_kill_point(output: str) -> bool:
    """The snapshot is written and a table is being created: from here on the build only creates tables
    and runs tests, so what the lost server leaves behind is a table folder, never a half-rewritten one."""
    snapshot = output.find("OK snapshotted snapshots.snap_title_attributes")
    return snapshot >= 0 and "START sql table model" in output[snapshot:]


@pytest.fixture(scope="module")
def thrift_lost(worker_lost: ClusterRun) -> ClusterRun:
    """A full build that loses the Thrift server halfway; then the server restarted and the next build."""
    run = worker_lost
    run.notes["published before thrift loss"] = run.published()
    build = run.start("cluster full v2 thrift lost", "cluster", "build", "--target", "spark-thrift")
    try:
        deadline = time.monotonic() + BUILD_TIMEOUT_S
        while not _thrift_kill_point(build.output()):
            assert build.proc.poll() is None, f"the build ended before the kill:\n{build.output()[-3000:]}"
            assert time.monotonic() < deadline, "the build never reached the kill point"
            time.sleep(0.2)
        killed = run.tmdb("kill thrift", "stage", "spark-cluster", "stop", "thrift", "--kill")
        assert "thrift    killed" in killed, killed
        run.notes["thrift lost exit"] = build.wait(BUILD_TIMEOUT_S)
    finally:
        build.stop()
    run.outputs["cluster full v2 thrift lost"] = build.output()
    run.notes["stamp after thrift loss"] = run.stamp()
    run.notes["published after thrift loss"] = run.published()
    run.tmdb("cluster restart thrift", "stage", "spark-cluster", "start")
    run.tmdb("cluster after restart", "cluster", "build", "--target", "spark-thrift")
    run.notes["stamp after restart"] = run.stamp()
    run.notes["published after restart"] = run.published()
    run.compare("after restart", FULL_BUILD_SCHEMAS)
    return run


# --- the cluster itself -----------------------------------------------------------------------------------


def test_the_cluster_runs_two_workers_and_says_so_when_started_again(run: ClusterRun) -> None:
    settings = run.settings
    master = master_json(settings) or {}
    alive = [w for w in master.get("workers", []) if w.get("state") == "ALIVE"]
    assert master.get("status") == "ALIVE" and len(alive) == 2, master
    assert {w["cores"] for w in alive} == {1}
    (app,) = master["activeapps"]
    assert app["name"].startswith("tmdb Thrift server") and app["cores"] == 2
    started = run.outputs["cluster start"]
    assert (
        f"http://{HOST}:{settings.master_ui_port}/" in started and f"{HOST}:{settings.thrift_port}" in started
    )
    again = run.tmdb("cluster start again", "stage", "spark-cluster", "start")
    assert "is already running" in again and "ready in" not in again
    status = run.tmdb("cluster status", "stage", "spark-cluster", "status")
    assert len(re.findall(r"^  (master|worker-1|worker-2|thrift)\s+running, PID", status, re.MULTILINE)) == 4
    # everything it keeps is under the data folder: logs, state, tables, catalog
    folder = run.cluster.root
    assert folder == run.data_dir / "spark-cluster"
    for name in ("master", "worker-1", "worker-2", "thrift"):
        assert run.cluster.log(name).is_file()
    assert (folder / "state.json").is_file() and (folder / "metastore_db").is_dir()


def test_a_second_cluster_on_the_same_ports_is_refused_naming_the_first(run: ClusterRun) -> None:
    other = run.root / "data" / "other"
    other.mkdir()
    done = subprocess.run(
        [*TMDB, "spark-cluster", "start"],
        env={**run.env("stage"), "TMDB_DATA_DIR": str(other)},
        cwd=run.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"{HOST}:{run.ports['master_port']} (the master, TMDB_SPARK_MASTER_PORT) is in use" in done.stderr
    assert f"the Spark cluster of {run.data_dir}" in done.stderr and "Nothing was started" in done.stderr
    assert not (other / "spark-cluster" / "state.json").exists()


# --- 1. the first build -------------------------------------------------------------------------------------


def test_first_cluster_build_runs_every_node_of_the_duckdb_build(first_build: ClusterRun) -> None:
    nodes = passed_as_on_duckdb(first_build.results["cluster v1"], first_build.results["duckdb v1"])
    assert {"seed", "model", "snapshot", "test", "unit_test"} <= {n.split(".", 1)[0] for n in nodes}
    # the Thrift server never failed to close a dbt session (Spark 4 without hive-llap-common, see launch.py)
    assert "Error closing session" not in first_build.thrift_log()


def test_first_cluster_build_has_the_same_rows_as_duckdb(first_build: ClusterRun) -> None:
    assert len(first_build.compared["v1"]) >= 25, first_build.compared["v1"]  # 28 tables when written
    assert not first_build.differences["v1"], "\n".join(first_build.differences["v1"])


def test_the_spark_uis_show_both_workers_and_the_builds_jobs(first_build: ClusterRun) -> None:
    """Screenshots, in headless Chromium, of the master's UI (the two workers, the Thrift server's
    application) and of the Thrift server's UI (the jobs of the build). TMDB_SCREENSHOT_DIR=docs/images
    writes them where docs/spark.md shows them; by default into target/screenshots/."""
    chromium = find_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("Playwright is not installed: run `make venv-dev`")
    if chromium is None:
        _skip_or_fail(INSTALL_HINT)
    settings = first_build.settings
    chosen = os.environ.get("TMDB_SCREENSHOT_DIR")
    out_dir = (REPO_ROOT / chosen) if chosen else REPO_ROOT / "target" / "screenshots"
    out_dir.mkdir(parents=True, exist_ok=True)
    apps = fetch_json(f"http://{HOST}:{settings.app_ui_port}/api/v1/applications") or []
    jobs = fetch_json(f"http://{HOST}:{settings.app_ui_port}/api/v1/applications/{apps[0]['id']}/jobs") or []
    assert len(jobs) > 100, f"the Thrift server ran {len(jobs)} jobs for the build"
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_FLAGS[1:],  # headless=True says it for a persistent context
            viewport={"width": 1400, "height": 820},
        )
        try:
            page = browser.new_page()
            page.goto(f"http://{HOST}:{settings.master_ui_port}/", wait_until="load")
            page.wait_for_selector("text=Running Applications")
            text = page.inner_text("body")
            assert "2 Alive" in text and text.count("ALIVE") >= 2 and "tmdb Thrift server" in text, text[
                :2000
            ]
            page.screenshot(path=str(out_dir / "spark-master-ui.png"), full_page=True)
            page.goto(f"http://{HOST}:{settings.app_ui_port}/jobs/", wait_until="load")
            page.wait_for_selector("text=Completed Jobs")
            assert '"app": "dbt"' in page.inner_text("body"), "the jobs page shows no dbt statement"
            page.screenshot(path=str(out_dir / "spark-thrift-jobs.png"))
        finally:
            browser.close()
    for name in ("spark-master-ui.png", "spark-thrift-jobs.png"):
        assert (out_dir / name).stat().st_size > 20_000, f"{name} looks empty"


# --- 2. the incremental build -------------------------------------------------------------------------------


def test_incremental_cluster_build_passes_like_the_duckdb_one(second_build: ClusterRun) -> None:
    nodes = passed_as_on_duckdb(second_build.results["cluster v2"], second_build.results["duckdb v2"])
    built = {n.rsplit(".", 1)[-1] for n in nodes}
    incremental = {"raw_tmdb__movies", "raw_tmdb__series", "stg_tmdb__movies", "stg_tmdb__series"}
    assert incremental | {"snap_title_attributes", "dim_title_history"} <= built
    untested = untested_models(nodes, second_build.root / "target-cluster" / "manifest.json")
    assert untested == set(), "the second build made these without testing them"
    assert second_build.notes["elsewhere"] == [], "the build wrote into its working directory"


def test_incremental_cluster_build_has_the_same_rows_as_duckdb(second_build: ClusterRun) -> None:
    compared = second_build.compared["v2"]
    assert {"staging.stg_tmdb__movies", "snapshots.snap_title_attributes"} <= set(compared)
    assert not second_build.differences["v2"], "\n".join(second_build.differences["v2"])


# --- 3. a worker lost ---------------------------------------------------------------------------------------


def test_a_build_that_loses_a_worker_finishes_with_the_same_rows(worker_lost: ClusterRun) -> None:
    run = worker_lost
    output = run.outputs["cluster full v2 worker lost"]
    assert run.notes["worker lost exit"] == 0, output[-4000:]
    assert "dbt build     OK" in output
    log = str(run.notes["thrift log after worker loss"])
    gone = re.search(r"Lost executor (\d+) on 127\.0\.0\.1", log)
    assert gone, "the Thrift server never noticed the loss"
    # what the lost executor was computing was computed again by worker 1's executor, or no longer needed
    lost = re.findall(
        r"task \d+\.0 in stage ([\d.]+) \(TID (\d+)\) failed because while it was being computed, its"
        r" executor exited|Lost task \d+\.0 in stage ([\d.]+) \(TID (\d+)\) .*ExecutorLostFailure",
        log,
    )
    assert lost, "no task was lost with the worker"
    for found in lost:
        stage, tid = found[0] or found[2], found[1] or found[3]
        assert _computed_again_or_not_needed(log, tid, gone.group(1)), f"TID {tid} of stage {stage} was lost"
    run.notes["tasks lost and run again"] = len(lost)
    assert run.notes["workers alive after loss"] == 1
    assert len(run.compared["worker lost"]) >= 35, run.compared["worker lost"]
    assert not run.differences["worker lost"], "\n".join(run.differences["worker lost"])
    restarted = run.outputs["cluster restart worker"]
    assert "starting worker-2" in restarted and "thrift    ready" not in restarted


# A task as the Thrift server's log starts it: its stage, TID, executor and partition
_TASK_STARTED = re.compile(
    r"Starting task \d+\.\d+ in stage (?P<stage>\d+)\.\d+ \(TID (?P<tid>\d+)\)"
    r" \([^,]*,\s*executor (?P<executor>\d+), partition (?P<partition>\d+),"
)


def _computed_again_or_not_needed(log: str, tid: str, lost_executor: str) -> bool:
    """Whether the partition a lost task (TID) was computing was computed again on another executor: by a
    later attempt of the task, or in a later attempt of its stage, which Spark makes instead when a fetch
    failure shows that the lost executor also held shuffle output the stage reads. Or its job was no longer
    needed: its statement had answered, and closing it cancelled the job (the rows are compared anyway)."""
    started = {task["tid"]: task for task in _TASK_STARTED.finditer(log)}
    finished = set(re.findall(r"Finished task \S+ in stage [\d.]+ \(TID (\d+)\)", log))
    lost = started.get(tid)
    if lost is None:
        return False
    cancelled = rf"Stage {lost['stage']} \(.*?\) failed in \d+ ms due to \[SPARK_JOB_CANCELLED\]"
    return re.search(cancelled, log) is not None or any(
        again["stage"] == lost["stage"]
        and again["partition"] == lost["partition"]
        and int(again["tid"]) > int(tid)
        and again["executor"] != lost_executor
        and again["tid"] in finished
        for again in started.values()
    )


# --- 4. the Thrift server lost ------------------------------------------------------------------------------


def test_a_build_that_loses_the_thrift_server_fails_naming_it_and_publishes_nothing(
    thrift_lost: ClusterRun,
) -> None:
    run = thrift_lost
    output = run.outputs["cluster full v2 thrift lost"]
    assert run.notes["thrift lost exit"] == 1, output[-4000:]
    endpoint = f"{HOST}:{run.ports['thrift_port']}"
    assert f"The Spark Thrift server at {endpoint} stopped answering during the build" in output
    assert "make spark-cluster" in output and "Traceback" not in output
    assert "dbt build     FAILED" in output
    # no green build recorded, and the marts published by the build before it are still the latest
    assert "forgotten" in run.notes["stamp after thrift loss"]
    assert run.notes["published before thrift loss"] is not None
    assert run.notes["published after thrift loss"] == run.notes["published before thrift loss"]


def test_after_restarting_the_thrift_server_the_next_build_completes_with_the_same_rows(
    thrift_lost: ClusterRun,
) -> None:
    run = thrift_lost
    restarted = run.outputs["cluster restart thrift"]
    assert "starting thrift" in restarted and "worker-1  ready" not in restarted
    assert "dbt build     OK" in run.outputs["cluster after restart"]
    stamp = run.notes["stamp after restart"]
    assert "forgotten" not in stamp and stamp["batches"] == ["b000001", "b000002"]
    assert run.notes["published after restart"] not in (None, run.notes["published after thrift loss"])
    assert not run.differences["after restart"], "\n".join(run.differences["after restart"])
