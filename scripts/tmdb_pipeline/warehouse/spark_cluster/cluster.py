"""The local cluster of one data folder: what was started (state.json), starting what is missing and waiting
until it is ready, stopping exactly what was started, and saying how it stands."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tmdb_pipeline import locks
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.warehouse.spark_cluster import launch
from tmdb_pipeline.warehouse.spark_cluster.daemons import Daemon
from tmdb_pipeline.warehouse.spark_cluster.probes import (
    alive_worker_ui_ports,
    check_ports_free,
    master_alive,
    master_json,
    probe_thrift,
)
from tmdb_pipeline.warehouse.spark_cluster.settings import HOST, Component, Settings, components
from tmdb_pipeline.workspace import DataRoot, Workspace

log = logging.getLogger(__name__)

FOLDER = "spark-cluster"
STATE_VERSION = 1


@dataclass
class State:
    data_dir: str = ""
    settings: Settings = field(default_factory=Settings)
    daemons: dict[str, Daemon] = field(default_factory=dict)

    def running(self) -> dict[str, Daemon]:
        return {name: daemon for name, daemon in self.daemons.items() if daemon.running()}


class NotReady(Exception):
    """A process that did not become ready: the reason, for the message."""


class SparkCluster:
    """The local cluster of one data folder."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.root = workspace.root / FOLDER

    # --- folders --------------------------------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def metastore(self) -> Path:
        return self.root / "metastore_db"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def label(self) -> str:
        return self.workspace.relative()

    # --- state ----------------------------------------------------------------------------------------

    def read_state(self) -> State:
        try:
            raw = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return State(str(self.workspace.root))
        if not isinstance(raw, dict) or raw.get("version") != STATE_VERSION:
            return State(str(self.workspace.root))
        return State(
            str(raw.get("data_dir", "")),
            Settings.from_record(raw.get("settings", {})),
            {name: Daemon.from_record(record) for name, record in raw.get("daemons", {}).items()},
        )

    def _write_state(self, state: State) -> None:
        if not state.daemons:
            self.state_file.unlink(missing_ok=True)
            return
        content = {
            "version": STATE_VERSION,
            "data_dir": state.data_dir,
            "settings": state.settings.record(),
            "daemons": {name: daemon.record() for name, daemon in state.daemons.items()},
        }
        tmp = self.state_file.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(content, indent=1), encoding="utf-8")
        tmp.replace(self.state_file)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with locks.exclusive(
            self.root / "cluster.lock",
            what=f"The Spark cluster of {self.label()}",
            advice="Another `tmdb spark-cluster` command is starting or stopping it: wait for it to finish.",
        ):
            yield

    def settings(self) -> Settings:
        """The running cluster's settings, else the environment's."""
        state = self.read_state()
        return state.settings if state.running() else Settings.from_env()

    def thrift_running(self) -> bool:
        daemon = self.read_state().daemons.get("thrift")
        return daemon is not None and daemon.running()

    # --- start ----------------------------------------------------------------------------------------

    def start(self) -> None:
        home = launch.spark_home()
        java = launch.java_for_spark()
        launch.require_thrift_client()
        with self._locked():
            state = self.read_state()
            running = state.running()
            if running and "master" not in running:
                # Workers without their master give up re-registering after a while, and the Thrift
                # server's application ends with it: start the whole cluster again rather than patch it.
                log.info(
                    f"The master is down ({', '.join(running)} still run): restarting the whole cluster."
                )
                for name in [c.name for c in reversed(components(state.settings))]:
                    if name in running:
                        running.pop(name).stop()
            settings = state.settings if running else Settings.from_env()
            state.settings, state.data_dir = settings, str(self.workspace.root)
            state.daemons = dict(running)  # records of processes that are gone are dropped here
            missing = [c for c in components(settings) if c.name not in running]
            if not missing:
                log.info(f"The Spark cluster of {self.label()} is already running.")
                self._describe(settings)
                return
            if running:
                log.info(
                    f"The Spark cluster of {self.label()}: {', '.join(running)} already running; starting "
                    f"{', '.join(c.name for c in missing)}."
                )
            else:
                log.info(f"Starting a Spark cluster for {self.label()} in {self._shown(self.root)}/ ...")
            check_ports_free(missing)
            launch.lay_out(self.root, settings)
            started: list[str] = []
            current = missing[0]
            try:
                for current in missing:
                    began = time.monotonic()
                    daemon = Daemon.launch(
                        launch.command(self.root, self.label(), current, settings, home),
                        env=launch.environment(self.root, current, settings, home, java),
                        cwd=self.root,
                        log=self.log(current.name),
                        marker=str(self.root),
                    )
                    state.daemons[current.name] = daemon
                    self._write_state(state)
                    started.append(current.name)
                    self._wait_ready(current, daemon, settings)
                    log.info(
                        f"  {current.name:<9} ready in {time.monotonic() - began:5.1f} s  (PID {daemon.pid})"
                    )
                if "thrift" in state.daemons:
                    self._wait_for_executors(settings, state.daemons["thrift"])
            except NotReady as why:
                for name in reversed(started):
                    state.daemons.pop(name).stop(grace_s=10)
                self._write_state(state)
                raise UserError(
                    f"The Spark cluster's {current.name} did not start: {why}\n"
                    f"{self._log_tail(current.name)}\nIts full log: {self.log(current.name)}. What this "
                    "command started was stopped again"
                    + (f"; {', '.join(running)} still run." if running else ".")
                ) from None
            except BaseException:
                for name in reversed(started):
                    state.daemons.pop(name).stop(grace_s=10)
                self._write_state(state)
                raise
        self._describe(settings)

    # --- readiness ------------------------------------------------------------------------------------

    def _wait_ready(self, component: Component, daemon: Daemon, settings: Settings) -> None:
        if component.kind == "master":
            self._wait(daemon, settings, "the master's UI to say ALIVE", lambda: master_alive(settings))
        elif component.kind == "worker":
            self._wait(
                daemon,
                settings,
                f"the master to list {component.name} as ALIVE",
                lambda: component.ui_port in alive_worker_ui_ports(settings),
            )
        else:
            self._wait(
                daemon,
                settings,
                f"the Thrift server to answer `select 1` on {HOST}:{settings.thrift_port}",
                lambda: probe_thrift(HOST, settings.thrift_port, timeout_s=20) is None,
            )

    def _wait_for_executors(self, settings: Settings, thrift: Daemon) -> None:
        """Every worker runs an executor of the Thrift server (cores granted = all the cluster's cores)."""

        def granted() -> bool:
            apps = (master_json(settings) or {}).get("activeapps", [])
            return any(
                app.get("cores") == settings.total_cores
                and str(app.get("name", "")).startswith(launch.APP_NAME)
                for app in apps
            )

        self._wait(thrift, settings, f"the Thrift server to get all {settings.total_cores} cores", granted)

    def _wait(self, daemon: Daemon, settings: Settings, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + settings.timeout_s
        while not ready():
            if not daemon.running() and not _still_running_after(daemon, 1.0):
                raise NotReady(f"it exited while waiting for {what}")
            if time.monotonic() > deadline:
                raise NotReady(
                    f"still waiting for {what} after {settings.timeout_s} s "
                    f"({Settings.ENV['timeout_s']} sets how long)"
                )
            time.sleep(0.5)

    def _log_tail(self, name: str, lines: int = 15) -> str:
        try:
            text = self.log(name).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(f"    {line}" for line in text[-lines:])

    # --- stop -----------------------------------------------------------------------------------------

    def stop(self, names: list[str] | None = None, *, kill: bool = False) -> int:
        """Stop the cluster's processes (all, or those named), most dependent first. The number stopped."""
        with self._locked():
            state = self.read_state()
            order = [c.name for c in reversed(components(state.settings))]
            unknown = sorted(set(names or []) - set(order))
            if unknown:
                raise UserError(
                    f"No component {', '.join(unknown)} in the Spark cluster: its components are "
                    f"{', '.join(reversed(order))}."
                )
            if not state.daemons:
                log.info(f"No Spark cluster of {self.label()} is running: nothing to stop.")
                for other in self.others_running():
                    stop = f"TMDB_DATA_DIR={other.label()} make spark-cluster-stop"
                    log.info(f"  The cluster of {other.label()} runs: `{stop}` stops it.")
                return 0
            for name in sorted(set(names or []) - set(state.daemons)):
                log.info(f"  {name:<9} is not running: nothing to stop")
            stopped = 0
            for name in order:
                if (names and name not in names) or name not in state.daemons:
                    continue
                daemon = state.daemons.pop(name)
                if daemon.stop(kill=kill):
                    stopped += 1
                    log.info(f"  {name:<9} {'killed' if kill else 'stopped'} (PID {daemon.pid})")
                else:
                    log.info(f"  {name:<9} was not running (PID {daemon.pid} is gone or another process now)")
                self._write_state(state)
            if not state.daemons:
                tables = self._shown(self.warehouse)
                log.info(f"The Spark cluster of {self.label()} is stopped; its tables stay in {tables}/.")
            return stopped

    # --- status ---------------------------------------------------------------------------------------

    def status(self) -> bool:
        """Log each process's state; True when every one runs."""
        state = self.read_state()
        settings = state.settings if state.daemons else Settings.from_env()
        wanted = components(settings)
        running = state.running()
        if not state.daemons:
            log.info(f"No Spark cluster of {self.label()} is running (`make spark-cluster` starts one).")
            return False
        log.info(f"The Spark cluster of {self.label()} ({self._shown(self.root)}/):")
        for component in wanted:
            daemon = state.daemons.get(component.name)
            where = ", ".join(f"{port} ({what})" for port, what, _ in component.ports)
            if daemon is None:
                log.info(f"  {component.name:<9} not started            {where}")
            elif component.name in running:
                log.info(f"  {component.name:<9} running, PID {daemon.pid:<8}  {where}")
            else:
                log_file = self._shown(self.log(component.name))
                log.info(f"  {component.name:<9} NOT RUNNING (was PID {daemon.pid})   its log: {log_file}")
        if len(running) == len(wanted):
            self._describe(settings, heading=False)
        return len(running) == len(wanted)

    def _describe(self, settings: Settings, heading: bool = True) -> None:
        lines = [
            f"  Master UI      http://{HOST}:{settings.master_ui_port}/   (spark://{HOST}:{settings.master_port})",
            f"  Workers        {settings.workers} x ({settings.worker_cores} core, {settings.worker_memory}),"
            f" UIs from http://{HOST}:{settings.worker_ui_port}/",
            f"  Thrift server  {HOST}:{settings.thrift_port}   (jdbc:hive2://{HOST}:{settings.thrift_port}/)",
            f"  Jobs, SQL      http://{HOST}:{settings.app_ui_port}/   (the Thrift server's UI)",
            f"  Tables         {self._shown(self.warehouse)}/   (catalog: {self._shown(self.metastore)}/)",
            f"  Logs           {self._shown(self.logs)}/",
            "  Build on it    make build TARGET=spark-thrift   (stop it: make spark-cluster-stop)",
        ]
        if heading:
            log.info(f"The Spark cluster of {self.label()}:")
        for line in lines:
            log.info(line)

    def others_running(self) -> list[SparkCluster]:
        """The clusters of the other data folders of this data root that have a process running."""
        found = []
        for folder in clusters_under(self.workspace.data_root.path):
            if folder != self.root:
                other = SparkCluster(self.workspace.data_root.workspace(folder.parent))
                if other.read_state().running():
                    found.append(other)
        return found

    def _shown(self, path: Path) -> str:
        relative = os.path.relpath(path, Path.cwd())
        return relative if len(relative) < len(str(path)) else str(path)


def _still_running_after(daemon: Daemon, seconds: float) -> bool:
    """A second look, a moment later, before taking a process for dead in the middle of a start."""
    time.sleep(seconds)
    return daemon.running()


# --------------------------------------------------------------------------------------------------------
# Every cluster under a folder (the gate's clean-up; `stop` on another data folder's cluster)


def clusters_under(folder: Path) -> list[Path]:
    """The cluster folders under `folder` with processes recorded."""
    if not folder.is_dir():
        return []
    return sorted(p.parent for p in folder.rglob(f"{FOLDER}/state.json"))


def stop_all_under(folder: Path) -> int:
    """Stop every cluster whose folder lies under `folder` (whatever the test or run that started it left)."""
    stopped = 0
    for cluster_dir in clusters_under(folder):
        workspace = DataRoot(cluster_dir.parent.parent).workspace(cluster_dir.parent)
        stopped += SparkCluster(workspace).stop()
    return stopped


def command(action: str, names: list[str], *, kill: bool = False) -> int:
    """`tmdb spark-cluster start|stop|status [component ...]` on the current data folder's cluster."""
    workspace = DataRoot.from_env().current()
    if workspace is None:
        if action == "start":
            raise UserError(
                "A Spark cluster keeps its catalog and tables in a data folder, beside the landing zone it "
                "reads, and nothing has been staged yet: run `make stage` first (`make stage SOURCE=sample` "
                "works offline), or point TMDB_DATA_DIR at a data folder."
            )
        log.info("Nothing has been staged yet, so there is no data folder and no Spark cluster of one.")
        return 0 if action == "stop" else 1
    cluster = SparkCluster(workspace)
    if names and action != "stop":
        raise UserError(f"`tmdb spark-cluster {action}` takes no component names (only `stop` does).")
    if action == "start":
        cluster.start()
        return 0
    if action == "stop":
        cluster.stop(names or None, kill=kill)
        return 0
    return 0 if cluster.status() else 1
