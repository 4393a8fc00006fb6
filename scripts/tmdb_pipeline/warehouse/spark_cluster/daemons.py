"""Background processes the pipeline starts and leaves running (the local Spark cluster's JVMs): how each is
recorded so that a later command stops exactly it and nothing else, and who holds a port.

A process id alone is no identity: once a process has ended, the kernel gives its id to the next process
that starts. So a record keeps the process's start time (in clock ticks since boot, /proc/<pid>/stat field
22) and the machine's boot id, and a text its command line carries (the cluster's folder); a process is
"ours" only while all three still match. A stale record (the machine rebooted, the process died and its id
was reused) is recognised as such and never signalled.

Each daemon is started in a session of its own (`start_new_session`), so it leads its own process group:
signalling the group reaches the processes it started itself (a Spark worker's executors) and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PROC = Path("/proc")


def boot_id() -> str:
    try:
        return (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (which may hold spaces): state is [0], pgrp [2], start [19]."""
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def command_line(pid: int) -> str:
    try:
        return (
            (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        )
    except OSError:
        return ""


@dataclass(frozen=True)
class Daemon:
    """One started process, as recorded in a state file."""

    pid: int
    start_ticks: int
    boot_id: str
    marker: str  # text its command line carries for as long as it runs

    @classmethod
    def launch(
        cls, command: Sequence[str], *, env: Mapping[str, str], cwd: Path, log: Path, marker: str
    ) -> Daemon:
        """Start `command` in a session of its own, stdin closed, stdout and stderr appended to `log`."""
        if marker not in " ".join(command):
            raise ValueError(f"the command line must carry the marker {marker!r}")
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                list(command),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        ticks = start_ticks(proc.pid)
        if ticks is None:  # it ended at once: the caller reads why in its log
            proc.wait()
            ticks = -1
        # The daemon outlives this object, and usually this program (the `tmdb spark-cluster start` that
        # launched it exits; init reaps the daemon). Marked as done so that Popen's finaliser neither warns
        # about a running child nor keeps it on its list to reap.
        proc.returncode = 0
        return cls(proc.pid, ticks, boot_id(), marker)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Daemon:
        return cls(
            int(record["pid"]), int(record["start_ticks"]), str(record["boot_id"]), str(record["marker"])
        )

    def record(self) -> dict[str, Any]:
        return asdict(self)

    def running(self) -> bool:
        """The recorded process itself is alive: same boot, same start time, still carrying the marker."""
        if self.start_ticks < 0 or self.boot_id != boot_id():
            return False
        fields = _stat_fields(self.pid)
        if fields is None or fields[0] in ("Z", "X") or int(fields[19]) != self.start_ticks:
            return False
        # A process reads with an empty command line for a moment while it exec()s (spark-class and
        # spark-submit exec java): the same id and start time are then enough.
        line = command_line(self.pid)
        return not line or self.marker in line

    def group_members(self) -> list[int]:
        """Live processes of this daemon's process group (itself and what it started)."""
        return live_group_members(self.pid)

    def stop(self, *, grace_s: float = 30.0, kill: bool = False) -> bool:
        """SIGTERM the daemon's process group (SIGKILL with kill=True, or after grace_s), and wait until every
        member is gone. False when the recorded process was not running (nothing was signalled)."""
        if not self.running():
            return False
        try:
            if os.getpgid(self.pid) != self.pid:  # it left its own group: signal it alone
                os.kill(self.pid, signal.SIGKILL if kill else signal.SIGTERM)
            else:
                os.killpg(self.pid, signal.SIGKILL if kill else signal.SIGTERM)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + grace_s
        while self.group_members() and time.monotonic() < deadline:
            time.sleep(0.2)
        if self.group_members():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while self.group_members() and time.monotonic() < deadline:
                time.sleep(0.2)
        return True


def live_group_members(group: int) -> list[int]:
    members = []
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended while we looked
        if int(fields[2]) == group and fields[0] not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return sorted(members)


def port_holder(port: int) -> tuple[int, str] | None:
    """(PID, command line) of the process listening on a TCP port, when this user may see it; else None."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for fd_dir in PROC.glob("[0-9]*/fd"):
        if _fd_links(fd_dir) & wanted:
            pid = int(fd_dir.parent.name)
            return pid, command_line(pid)
    return None


def _fd_links(fd_dir: Path) -> set[str]:
    """What a process's open files point at; a file closed while we look (or a process we may not read)
    is skipped, not the whole process."""
    links = set()
    try:
        fds = list(fd_dir.iterdir())
    except OSError:
        return links
    for fd in fds:
        try:
            links.add(os.readlink(fd))
        except OSError:
            continue
    return links
