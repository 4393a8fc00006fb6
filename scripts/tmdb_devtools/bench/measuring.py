"""Measuring a command as a whole process tree, from outside: wall time, CPU time and peak memory.

CPU is user + system time of the whole tree, from the kernel's accounting of reaped children; memory is the
RSS of every process in the tree summed (sampled every 50 ms), and the PSS beside it (shared pages split
between the processes sharing them), since forked workers share their parent's pages until they write.
"""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.project import project

SAMPLE_INTERVAL_S = 0.05
MIB = 1024 * 1024


class BenchError(UserError):
    """A benchmark step failed: its command's output is in the step's log file."""


@dataclass
class Step:
    name: str
    files: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_pss_mb: float
    ok: bool = True
    note: str = ""


def _pss(pid: int) -> int | None:
    """Proportional set size (shared pages split between their processes), where Linux reports it."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def tree_rss(procs: Iterable[Any]) -> int:
    """Sum of RSS over processes, in bytes; those that ended meanwhile count nothing."""
    import psutil

    rss = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            rss += proc.memory_info().rss
    return rss


def tree_pss(procs: Iterable[Any]) -> int:
    """Sum of PSS over processes (RSS where the kernel does not report PSS), in bytes.

    Forked workers share their parent's pages until written: the RSS sum counts such pages once per
    process, the PSS sum once in all.
    """
    import psutil

    pss = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            pss += _pss(proc.pid) or proc.memory_info().rss
    return pss


def process_tree(root: Any) -> list[Any]:
    import psutil

    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


class _MemorySampler(threading.Thread):
    """Samples the summed RSS of a process tree every 50 ms until stopped, and its summed PSS every 250 ms.

    Listing the tree reads every process of the machine and PSS makes the kernel walk each process's
    memory, so both are done every 5th sample only, to keep the sampler's own cost small.
    """

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.root = psutil.Process(pid)
        self.peak_rss = self.peak_pss = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        procs: list[Any] = []
        tick = 0
        while not self._stop_event.is_set():
            if tick % 5 == 0:
                procs = process_tree(self.root)
                self.peak_pss = max(self.peak_pss, tree_pss(procs))
            tick += 1
            self.peak_rss = max(self.peak_rss, tree_rss(procs))
            self._stop_event.wait(SAMPLE_INTERVAL_S)

    def stop(self) -> tuple[int, int]:
        self._stop_event.set()
        self.join()
        return self.peak_rss, self.peak_pss


def measure(
    name: str,
    command: Sequence[str],
    *,
    files: int,
    log_dir: Path,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> Step:
    """Run one command as a process tree; its output goes to <log_dir>/<name>.log."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            list(command),
            cwd=project().root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        sampler = _MemorySampler(proc.pid)
        sampler.start()
        try:
            returncode = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            peak, peak_pss = sampler.stop()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    step = Step(
        name,
        files,
        round(wall, 2),
        round(cpu, 2),
        round(peak / MIB, 1),
        round(peak_pss / MIB, 1),
        returncode == 0,
    )
    if returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
        step.note = f"exit code {returncode}; see {log_path}"
        if check:
            raise BenchError(
                f"Benchmark step {name!r} failed (exit code {returncode}). Last lines of {log_path}:\n{tail}"
            )
    return step


def machine_info() -> dict[str, Any]:
    import psutil

    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "cpu_model": model,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "dbt_core": version("dbt-core"),
        "dbt_duckdb": version("dbt-duckdb"),
        "duckdb": version("duckdb"),
        "pandas": version("pandas"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
