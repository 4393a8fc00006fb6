"""Advisory locks that say who holds them: one implementation for every lock the pipeline takes.

A lock is an open file with an exclusive `flock`; the kernel releases it when its process ends, however it
ends, so a lock file left on disk is never stale. While it is held the file names its holder (PID, command,
since when), and a process that finds it taken raises `LockedError` saying who has it and what to do.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tmdb_pipeline.errors import LockedError, UserError

log = logging.getLogger(__name__)


@contextmanager
def exclusive(path: Path, *, what: str, advice: str) -> Iterator[None]:
    """Hold the lock file `path` for the duration of the block.

    `what` names what the lock protects ("the landing zone data/sample/landing"); `advice` says what to do
    when another process holds it. OSError creating the file is left to the caller, which knows what the
    folder is for.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:

        def refuse() -> None:
            raise LockedError(
                f"{what} is in use by another process ({_holder(fd)}): it holds the lock file {path}. "
                f"{advice} The lock goes away by itself when that process ends: there is nothing to delete."
            ) from None

        _take(fd, path, refuse)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def hold_across_exec(path: Path, *, what: str) -> None:
    """Take the lock file `path`, waiting for its holder if there is one, and keep it for the rest of this
    process: the descriptor survives `exec`, so the program this process becomes holds the lock until it
    ends. Whom it waits for is logged before it waits."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UserError(
            f"Cannot create the lock file {path} ({exc.strerror}): its folder must be writable."
        ) from exc

    def wait() -> None:
        log.info(f"Waiting for {what}: {_holder(fd)} holds the lock file {path}.")
        fcntl.flock(fd, fcntl.LOCK_EX)

    try:
        _take(fd, path, wait)
    except BaseException:
        os.close(fd)
        raise
    os.set_inheritable(fd, True)


def _take(fd: int, path: Path, when_held: Callable[[], None]) -> None:
    """Lock the open lock file `fd` and write this process into it. When another process holds it,
    `when_held` either raises or waits for the lock."""
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            when_held()
    except OSError as exc:  # e.g. a network filesystem without locks
        raise UserError(
            f"Cannot lock {path} ({exc.strerror}): the pipeline needs a local folder that supports file "
            "locks. Point the data folder (TMDB_DATA_ROOT, or TMDB_DATA_DIR) at one."
        ) from exc
    os.ftruncate(fd, 0)
    os.pwrite(fd, _describe_self().encode(), 0)


def _describe_self() -> str:
    return f"PID {os.getpid()} ({_command_line(os.getpid())}), since {time.strftime('%Y-%m-%d %H:%M:%S')}"


def _holder(fd: int) -> str:
    text = os.pread(fd, 400, 0).decode(errors="replace").strip()
    return text or "its PID is not written yet"


def _command_line(pid: int | str) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "command unknown"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:120] or "command unknown"


def posix_lock_holder(lock_file: Path) -> str:
    """Who holds a POSIX (`lockf`) lock on a file another program created, e.g. Derby's metastore lock:
    'PID 123 (python3 .venv/bin/dbt build ...)' from /proc/locks, else 'another process'."""
    try:
        inode = str(lock_file.stat().st_ino)
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if len(fields) > 5 and fields[5].rsplit(":", 1)[-1] == inode:
                return f"PID {fields[4]} ({_command_line(fields[4])})"
    except OSError:
        pass
    return "another process"
