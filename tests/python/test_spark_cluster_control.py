"""The local Spark cluster's control and the spark-thrift target, without starting a JVM: settings, the
process records that keep `stop` from ever signalling a stranger, refused ports, the target's checks and
messages, the clean-up after a lost server, the gate. (The cluster itself: tests/python/test_spark_cluster.py,
`make test-spark-cluster`.)"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT, pipeline_env
from tmdb_devtools import gates
from tmdb_devtools.gates import builds
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.warehouse import dbt, spark_thrift
from tmdb_pipeline.warehouse.spark_cluster import FOLDER, Settings, SparkCluster, components, launch
from tmdb_pipeline.warehouse.spark_cluster.daemons import Daemon, boot_id, start_ticks
from tmdb_pipeline.warehouse.spark_thrift import Endpoint, SparkThrift
from tmdb_pipeline.workspace import DataRoot, Workspace

TMDB = [sys.executable, "-m", "tmdb_pipeline"]
# The process records and the port holder read /proc (the cluster runs on Linux only).
needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="no /proc on this system")
CLUSTER_VARIABLES = [*Settings.ENV.values(), "TMDB_SPARK_THRIFT_HOST", "TMDB_SPARK_THRIFT_USER"]


@pytest.fixture(autouse=True)
def _no_cluster_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CLUSTER_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    folder = tmp_path / "data" / "sample"
    folder.mkdir(parents=True)
    return DataRoot(tmp_path / "data").workspace(folder)


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not the cluster's (its command line names no cluster folder)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


# --- settings -------------------------------------------------------------------------------------------


def test_settings_default_to_ports_clear_of_the_usual_ones_and_read_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = Settings.from_env()
    assert (defaults.master_port, defaults.master_ui_port, defaults.thrift_port) == (17077, 18080, 10000)
    assert (defaults.workers, defaults.worker_cores, defaults.worker_memory) == (2, 1, "1g")
    assert [c.name for c in components(defaults)] == ["master", "worker-1", "worker-2", "thrift"]
    assert [c.ui_port for c in components(defaults)[1:3]] == [18081, 18082]
    monkeypatch.setenv("TMDB_SPARK_MASTER_UI_PORT", "28080")
    monkeypatch.setenv("TMDB_SPARK_WORKERS", "3")
    monkeypatch.setenv("TMDB_SPARK_WORKER_MEMORY", "768m")
    chosen = Settings.from_env()
    assert chosen.master_ui_port == 28080 and chosen.workers == 3 and chosen.executor_memory == "768m"
    assert chosen.total_cores == 3


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TMDB_SPARK_THRIFT_PORT", "ten", "TMDB_SPARK_THRIFT_PORT='ten' is not a whole number"),
        ("TMDB_SPARK_MASTER_PORT", "80", "from 1024 to 65535"),
        ("TMDB_SPARK_WORKER_MEMORY", "lots", "not a JVM memory size"),
        ("TMDB_SPARK_EXECUTOR_MEMORY", "2g", "is more than a worker has"),
        ("TMDB_SPARK_APP_UI_PORT", "18081", "The Spark cluster's ports overlap"),
    ],
)
def test_a_bad_setting_is_a_message_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(UserError, match=message):
        Settings.from_env()


# --- the records of started processes ---------------------------------------------------------------------


@needs_proc
def test_a_launched_daemon_is_recognised_and_its_whole_group_stopped(tmp_path: Path) -> None:
    marker = str(tmp_path / "cluster")
    script = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "time.sleep(120)\n"
    )
    daemon = Daemon.launch(
        [sys.executable, "-c", script, marker],
        env=dict(os.environ),
        cwd=tmp_path,
        log=tmp_path / "d.log",
        marker=marker,
    )
    assert daemon.running()
    deadline = time.monotonic() + 30
    while len(daemon.group_members()) < 2:  # the daemon and the child it started
        assert time.monotonic() < deadline
        time.sleep(0.05)
    again = Daemon.from_record(json.loads(json.dumps(daemon.record())))
    assert again == daemon and again.running()
    assert again.stop(grace_s=10)
    assert daemon.group_members() == [] and not daemon.running()
    assert not daemon.stop(), "a stopped daemon is stopped again"


@needs_proc
def test_a_stale_record_never_signals_the_process_that_has_its_id_now(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    ticks = start_ticks(sleeper.pid)
    assert ticks is not None
    reused_id = Daemon(
        sleeper.pid, ticks - 1, boot_id(), str(tmp_path)
    )  # another start time: another process
    other_boot = Daemon(sleeper.pid, ticks, "another-boot", str(tmp_path))
    no_marker = Daemon(sleeper.pid, ticks, boot_id(), str(tmp_path / "cluster"))  # not the cluster's command
    for record in (reused_id, other_boot, no_marker):
        assert not record.running()
        assert not record.stop(kill=True)
    time.sleep(0.2)
    assert sleeper.poll() is None, "a process that merely has a recorded id was signalled"


@needs_proc
def test_stop_with_a_stale_state_file_says_so_and_signals_nothing(
    workspace: Workspace, sleeper: subprocess.Popen[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tmdb_pipeline")
    cluster = SparkCluster(workspace)
    cluster.root.mkdir()
    ticks = start_ticks(sleeper.pid)
    record = Daemon(sleeper.pid, int(ticks or 0), boot_id(), str(cluster.root)).record()
    cluster.state_file.write_text(
        json.dumps(
            {"version": 1, "data_dir": str(workspace.root), "settings": {}, "daemons": {"master": record}}
        )
    )
    assert cluster.stop() == 0
    said = caplog.messages
    assert any(f"master    was not running (PID {sleeper.pid}" in line for line in said), said
    assert sleeper.poll() is None
    assert not cluster.state_file.exists()
    assert cluster.stop() == 0 and "nothing to stop" in caplog.messages[-1]


@needs_proc
def test_stopping_one_component_leaves_the_others_and_says_when_it_is_already_down(
    workspace: Workspace, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tmdb_pipeline")
    cluster = SparkCluster(workspace)
    cluster.root.mkdir()
    daemons = {
        name: Daemon.launch(
            [sys.executable, "-c", "import time; time.sleep(120)", str(cluster.root)],
            env=dict(os.environ),
            cwd=tmp_path,
            log=tmp_path / f"{name}.log",
            marker=str(cluster.root),
        )
        for name in ("master", "worker-1")
    }
    cluster.state_file.write_text(
        json.dumps(
            {
                "version": 1,
                "data_dir": str(workspace.root),
                "settings": {},
                "daemons": {name: daemon.record() for name, daemon in daemons.items()},
            }
        )
    )
    try:
        assert cluster.stop(["worker-1", "worker-2"], kill=True) == 1
        assert not daemons["worker-1"].running() and daemons["master"].running()
        said = caplog.messages
        assert any("worker-2  is not running: nothing to stop" in line for line in said), said
        assert any(f"worker-1  killed (PID {daemons['worker-1'].pid})" in line for line in said), said
        assert set(cluster.read_state().daemons) == {"master"}
    finally:
        for daemon in daemons.values():
            daemon.stop(kill=True)


def test_stopping_an_unknown_component_is_a_message(workspace: Workspace) -> None:
    with pytest.raises(
        UserError, match="No component worker-9 in the Spark cluster: its components are master"
    ):
        SparkCluster(workspace).stop(["worker-9"])


# --- starting -----------------------------------------------------------------------------------------------


@pytest.fixture
def no_prerequisites(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """start() gets past its checks of pyspark, Java and the Thrift client, whether installed or not."""
    monkeypatch.setattr(launch, "spark_home", lambda: tmp_path)
    monkeypatch.setattr(launch, "java_for_spark", lambda: "/usr/bin/java")
    monkeypatch.setattr(launch, "require_thrift_client", lambda: None)


@needs_proc
def test_a_port_in_use_is_refused_before_anything_starts_naming_its_holder(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, no_prerequisites: None
) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        monkeypatch.setenv("TMDB_SPARK_THRIFT_PORT", str(port))
        with pytest.raises(UserError) as refused:
            SparkCluster(workspace).start()
    message = str(refused.value)
    assert (
        f"127.0.0.1:{port} (the Thrift server, TMDB_SPARK_THRIFT_PORT) is in use by PID {os.getpid()}"
        in message
    )
    assert "Nothing was started" in message and "TMDB_SPARK_THRIFT_PORT=<port> make spark-cluster" in message
    assert not SparkCluster(workspace).state_file.exists()
    assert not (SparkCluster(workspace).root / "logs").exists()


def test_the_processes_get_their_own_spark_settings_and_name_the_cluster_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARK_CONF_DIR", "/somewhere/else")
    monkeypatch.setenv("SPARK_HOME", "/another/spark")
    root = tmp_path / FOLDER
    settings = Settings()
    launch.lay_out(root, settings)
    for component in components(settings):
        line = launch.command(root, "data/sample", component, settings, tmp_path)
        assert str(root) in " ".join(line), f"{component.name}'s command line does not name its cluster"
        env = launch.environment(root, component, settings, tmp_path, "/usr/bin/java")
        assert env["SPARK_CONF_DIR"] == str(root / "conf") and env["SPARK_HOME"] == str(tmp_path)
        assert env["SPARK_LOCAL_IP"] == "127.0.0.1"
    thrift = launch.command(root, "data/sample", components(settings)[-1], settings, tmp_path)
    assert "hive.server2.thrift.bind.host=127.0.0.1" in thrift
    conf = (root / "conf" / "thrift.conf").read_text()
    for setting in (
        f"spark.sql.warehouse.dir {root / 'warehouse'}",
        "spark.sql.session.timeZone UTC",
        "spark.sql.legacy.timeParserPolicy CORRECTED",
        "spark.sql.sources.default parquet",
    ):
        assert setting in conf


def test_the_llap_shim_is_one_empty_interface(tmp_path: Path) -> None:
    jar = tmp_path / launch.LLAP_SHIM_JAR
    launch.write_llap_shim(jar)
    with zipfile.ZipFile(jar) as archive:
        (entry,) = archive.namelist()
        class_file = archive.read(entry)
    assert entry == f"{launch.LLAP_SHIM_CLASS}.class" and class_file[:4] == b"\xca\xfe\xba\xbe"
    javap = shutil.which("javap")
    if javap:  # a JDK at hand: the JVM's own reading of the class
        shown = subprocess.run(
            [javap, "-cp", str(jar), launch.LLAP_SHIM_CLASS.replace("/", ".")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "public interface org.apache.hadoop.hive.llap.security.LlapSigner$Signable {" in shown


# --- the command --------------------------------------------------------------------------------------------


def _tmdb(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TMDB, *args],
        cwd=tmp_path,
        env=pipeline_env(TMDB_DATA_ROOT=str(tmp_path / "data"), **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_before_anything_is_staged(tmp_path: Path) -> None:
    started = _tmdb(tmp_path, "spark-cluster", "start")
    assert started.returncode == 2 and "Traceback" not in started.stderr
    assert "nothing has been staged yet: run `make stage` first" in started.stderr
    assert _tmdb(tmp_path, "spark-cluster", "status").returncode == 1
    stopped = _tmdb(tmp_path, "spark-cluster", "stop")
    assert stopped.returncode == 0 and "no Spark cluster" in stopped.stdout


def test_the_command_on_a_data_folder_without_a_cluster(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "data" / "sample")
    status = _tmdb(tmp_path, "spark-cluster", "status", TMDB_DATA_DIR=data_dir)
    assert status.returncode == 1 and "is running (`make spark-cluster` starts one)" in status.stdout
    wrong = _tmdb(tmp_path, "spark-cluster", "status", "worker-1", TMDB_DATA_DIR=data_dir)
    assert wrong.returncode == 2 and "takes no component names" in wrong.stderr


# --- the spark-thrift target --------------------------------------------------------------------------------


def test_the_profile_has_a_thrift_output_read_from_the_environment() -> None:
    outputs = yaml.safe_load((REPO_ROOT / "profiles.yml").read_text())["tmdb"]["outputs"]
    thrift = outputs["spark-thrift"]
    assert thrift["type"] == "spark" and thrift["method"] == "thrift"
    assert "TMDB_SPARK_THRIFT_HOST" in thrift["host"] and "TMDB_SPARK_THRIFT_PORT" in thrift["port"]
    assert thrift["query_retries"] == 0, "a statement whose connection broke must not be sent twice"


def test_an_endpoint_is_the_local_cluster_unless_a_host_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Endpoint.from_env() == Endpoint("127.0.0.1", 10000, "tmdb", local=True)
    monkeypatch.setenv("TMDB_SPARK_THRIFT_HOST", "sts.internal")
    monkeypatch.setenv("TMDB_SPARK_THRIFT_PORT", "10001")
    assert str(Endpoint.from_env()) == "sts.internal:10001" and not Endpoint.from_env().local
    monkeypatch.setenv("TMDB_SPARK_THRIFT_PORT", "0")
    with pytest.raises(UserError, match="TMDB_SPARK_THRIFT_PORT='0' is not a port number"):
        Endpoint.from_env()


@pytest.fixture
def staged(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A data folder with a batch, and the client's packages taken as installed."""
    (workspace.landing / "batch=b000001").mkdir(parents=True)
    monkeypatch.setattr(spark_thrift, "missing_packages", list)
    monkeypatch.setattr(spark_thrift, "require_thrift_client", lambda: None)
    return workspace


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_building_before_anything_is_staged_says_so(workspace: Workspace) -> None:
    with pytest.raises(UserError, match="Nothing staged: no batch in the landing zone"):
        SparkThrift().prepare(workspace)


def test_building_without_a_running_cluster_says_to_start_one(
    staged: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMDB_SPARK_THRIFT_PORT", str(_closed_port()))
    with pytest.raises(UserError) as refused:
        SparkThrift().prepare(staged)
    assert "No Spark cluster of" in str(refused.value) and "Start it with `make spark-cluster`" in str(
        refused.value
    )


def test_building_on_another_server_that_does_not_answer_names_it(
    staged: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _closed_port()
    monkeypatch.setenv("TMDB_SPARK_THRIFT_HOST", "127.0.0.1")
    monkeypatch.setenv("TMDB_SPARK_THRIFT_PORT", str(port))
    with pytest.raises(UserError) as refused:
        SparkThrift().prepare(staged)
    message = str(refused.value)
    assert f"The Spark Thrift server at 127.0.0.1:{port}" in message and "cannot be used" in message
    assert SparkThrift().state(staged) == [f"thrift://127.0.0.1:{port}"]


def test_the_failure_hint_names_the_endpoint_only_for_a_lost_connection(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMDB_SPARK_THRIFT_PORT", "10007")
    log = workspace.root / "dbt.log"
    log.write_text(
        "an earlier run: TTransportException: Could not connect to any of [('127.0.0.1', 10007)]\n"
    )
    since = log.stat().st_size
    with log.open("a") as more:
        more.write("Database Error: [TABLE_OR_VIEW_NOT_FOUND] The table `core`.`x` cannot be found\n")
    assert SparkThrift().failure_hint(workspace, dbt.log_since(log, since)) is None
    with log.open("a") as more:
        more.write(
            "Runtime Error: failed to connect: TTransportException: Could not connect to any of [...]\n"
        )
    hint = SparkThrift().failure_hint(workspace, dbt.log_since(log, since))
    assert hint is not None
    assert "The Spark Thrift server at 127.0.0.1:10007 stopped answering during the build" in hint
    assert "not recorded as a green build" in hint and "`make spark-cluster` starts what is down" in hint


def test_table_folders_without_a_catalog_entry_are_removed_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "warehouse"
    for folder in ("core.db/dim_titles", "core.db/dim_genres", "marts.db/mart_x", "mystery.db/kept"):
        (warehouse / folder / "_temporary").mkdir(parents=True)
    asked: list[list[str]] = []

    def catalog(host: str, port: int, schemas: list[str], user: str) -> dict[str, set[str]]:
        asked.append(schemas)
        return {"core": {"dim_titles"}, "marts": {"mart_x"}}  # the catalog knows no schema `mystery`

    monkeypatch.setattr(spark_thrift, "catalog_tables", catalog)
    removed = spark_thrift.remove_orphaned_table_folders(warehouse, Endpoint("127.0.0.1", 1, "tmdb", True))
    assert removed == ["core.db/dim_genres"] and asked == [["core", "marts", "mystery"]]
    assert sorted(str(p.relative_to(warehouse)) for p in warehouse.glob("*/*")) == [
        "core.db/dim_titles",
        "marts.db/mart_x",
        "mystery.db/kept",
    ]


# --- the gate -----------------------------------------------------------------------------------------------


def test_the_cluster_gate_runs_only_when_named_and_its_tests_only_there(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert "spark-cluster" not in [g.name for g in gates._selected(None)]
    assert [g.name for g in gates._selected("spark-cluster")] == ["spark-cluster"]
    commands: list[list[str]] = []
    stopped: list[Path] = []

    def fake_run(command: list[str], root: Path, **kwargs: object) -> tuple[int, str]:
        commands.append(list(command))
        return 1, ""  # the tests failed

    monkeypatch.setattr(builds, "run", fake_run)
    monkeypatch.setattr(builds.spark, "unavailable_reason", lambda: None)
    from tmdb_pipeline.warehouse import spark_cluster

    monkeypatch.setattr(spark_cluster, "stop_all_under", lambda folder: stopped.append(folder) or 0)
    builds.run_pytest(tmp_path)
    result = builds.check_spark_cluster(tmp_path)
    assert builds.CLUSTER_TESTS in commands[0]  # the pytest gate leaves it out ...
    assert commands[0][commands[0].index(builds.CLUSTER_TESTS) - 1] == "--ignore"
    cluster_run = commands[1]  # ... and the cluster gate runs it
    assert cluster_run[cluster_run.index(builds.CLUSTER_TESTS) - 1].startswith("--junitxml=")
    assert not result.ok and "pytest failed" in result.problems[-1]
    # whatever the tests left running is stopped, before (a run interrupted earlier) and after
    assert stopped == [tmp_path / "target" / "test-spark-cluster"] * 2


@needs_proc
def test_a_signal_reaches_only_the_daemon_group(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    """Stopping a daemon signals its own process group, never the caller's."""
    marker = str(tmp_path / "cluster")
    daemon = Daemon.launch(
        [sys.executable, "-c", "import time; time.sleep(120)", marker],
        env=dict(os.environ),
        cwd=tmp_path,
        log=tmp_path / "d.log",
        marker=marker,
    )
    assert os.getpgid(daemon.pid) == daemon.pid != os.getpgid(0)
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        assert daemon.stop(grace_s=10)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert sleeper.poll() is None
