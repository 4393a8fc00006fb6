"""The local Spark cluster's ports and sizes, each from an environment variable with a default, and the
processes they make up."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from tmdb_pipeline.errors import UserError

HOST = "127.0.0.1"  # every process binds here: nothing of the cluster is reachable from another machine


def _env_int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise UserError(f"{name}={raw!r} is not a whole number from {low} to {high}. Unset it or fix it.")
    return int(raw)


_MEMORY = re.compile(r"^(\d+)([mg])$", re.IGNORECASE)


def _env_memory(name: str, default: str) -> str:
    raw = os.environ.get(name, "").strip() or default
    if not _MEMORY.match(raw) or megabytes(raw) < 128:
        raise UserError(f"{name}={raw!r} is not a JVM memory size of at least 128m (e.g. 512m, 1g).")
    return raw.lower()


def megabytes(size: str) -> int:
    found = _MEMORY.match(size.strip())
    if not found:
        raise ValueError(size)
    number, unit = int(found.group(1)), found.group(2).lower()
    return number * 1024 if unit == "g" else number


@dataclass(frozen=True)
class Settings:
    """Ports and sizes, each from an environment variable (ENV names it) with a default."""

    master_port: int = 17077
    master_ui_port: int = 18080
    worker_ui_port: int = 18081  # the first worker's; the next ones count up from it
    thrift_port: int = 10000
    app_ui_port: int = 14040  # the Thrift server's own UI: its jobs, stages and SQL statements
    workers: int = 2
    worker_cores: int = 1
    worker_memory: str = "1g"
    executor_memory: str = "1g"
    thrift_memory: str = "1g"  # the Thrift server's heap (Spark's driver: plans, does not run tasks)
    daemon_memory: str = "256m"  # the master's and each worker's own heap
    shuffle_partitions: int = 4
    timeout_s: int = 300  # how long each process may take to be ready

    ENV: ClassVar[dict[str, str]] = {
        "master_port": "TMDB_SPARK_MASTER_PORT",
        "master_ui_port": "TMDB_SPARK_MASTER_UI_PORT",
        "worker_ui_port": "TMDB_SPARK_WORKER_UI_PORT",
        "thrift_port": "TMDB_SPARK_THRIFT_PORT",
        "app_ui_port": "TMDB_SPARK_APP_UI_PORT",
        "workers": "TMDB_SPARK_WORKERS",
        "worker_cores": "TMDB_SPARK_WORKER_CORES",
        "worker_memory": "TMDB_SPARK_WORKER_MEMORY",
        "executor_memory": "TMDB_SPARK_EXECUTOR_MEMORY",
        "thrift_memory": "TMDB_SPARK_THRIFT_MEMORY",
        "daemon_memory": "TMDB_SPARK_DAEMON_MEMORY",
        "shuffle_partitions": "TMDB_SPARK_SHUFFLE_PARTITIONS",
        "timeout_s": "TMDB_SPARK_CLUSTER_TIMEOUT",
    }

    @classmethod
    def from_env(cls) -> Settings:
        env = cls.ENV
        ports = {
            key: _env_int(env[key], getattr(cls, key), 1024, 65535)
            for key in ("master_port", "master_ui_port", "worker_ui_port", "thrift_port", "app_ui_port")
        }
        worker_memory = _env_memory(env["worker_memory"], cls.worker_memory)
        settings = cls(
            **ports,
            workers=_env_int(env["workers"], cls.workers, 1, 8),
            worker_cores=_env_int(env["worker_cores"], cls.worker_cores, 1, 64),
            worker_memory=worker_memory,
            executor_memory=_env_memory(env["executor_memory"], worker_memory),
            thrift_memory=_env_memory(env["thrift_memory"], cls.thrift_memory),
            daemon_memory=_env_memory(env["daemon_memory"], cls.daemon_memory),
            shuffle_partitions=_env_int(env["shuffle_partitions"], cls.shuffle_partitions, 1, 10_000),
            timeout_s=_env_int(env["timeout_s"], cls.timeout_s, 10, 3600),
        )
        if megabytes(settings.executor_memory) > megabytes(settings.worker_memory):
            raise UserError(
                f"{env['executor_memory']}={settings.executor_memory} is more than a worker has "
                f"({env['worker_memory']}={settings.worker_memory}): no executor could start. Lower the "
                "first or raise the second."
            )
        ports_used = [
            settings.master_port,
            settings.master_ui_port,
            settings.thrift_port,
            settings.app_ui_port,
        ]
        ports_used += [settings.worker_ui_port + i for i in range(settings.workers)]
        if len(set(ports_used)) != len(ports_used):
            raise UserError(
                f"The Spark cluster's ports overlap ({', '.join(map(str, ports_used))}): each of "
                f"{', '.join(env[k] for k in ports)} needs its own, and the workers' UIs take "
                f"{env['worker_ui_port']} and the {settings.workers - 1} port(s) after it."
            )
        return settings

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Settings:
        return cls(**{key: record[key] for key in cls.ENV if key in record})

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def total_cores(self) -> int:
        return self.workers * self.worker_cores


# --------------------------------------------------------------------------------------------------------
# The processes


@dataclass(frozen=True)
class Component:
    name: str  # master, worker-1, ..., thrift
    kind: str  # master | worker | thrift
    ports: tuple[tuple[int, str, str], ...]  # (port, what it serves, the variable that sets it)
    index: int = 0  # a worker's number

    @property
    def ui_port(self) -> int:
        return self.ports[-1][0] if self.kind == "worker" else self.ports[1][0]


def components(settings: Settings) -> list[Component]:
    """The processes of a cluster, in the order they start (and the reverse of the order they stop)."""
    env = Settings.ENV
    found = [
        Component(
            "master",
            "master",
            (
                (settings.master_port, "the master", env["master_port"]),
                (settings.master_ui_port, "the master's UI", env["master_ui_port"]),
            ),
        )
    ]
    for index in range(1, settings.workers + 1):
        port = settings.worker_ui_port + index - 1
        found.append(
            Component(
                f"worker-{index}",
                "worker",
                ((port, f"worker {index}'s UI", env["worker_ui_port"]),),
                index,
            )
        )
    found.append(
        Component(
            "thrift",
            "thrift",
            (
                (settings.thrift_port, "the Thrift server", env["thrift_port"]),
                (settings.app_ui_port, "the Thrift server's UI", env["app_ui_port"]),
            ),
        )
    )
    return found
