"""The faults themselves, each done to a running `tmdb run` (its whole process group) or to its data root,
and undone once the run has ended:

- sigkill: SIGKILL to the whole process group (the pipeline and dbt), as a power cut or the OOM killer;
- disk-full: the data root's own small filesystem filled up (a tmpfs with a size);
- read-only: the data root turned read-only, by a read-only bind mount over it (as root, chmod does not stop
  writes, and a filesystem with files open for writing cannot be remounted read-only: the bind mount gives
  what a remount would, for every path opened from then on);
- sigstop: the process group stopped for longer than the run lock waits (it does not: a second run is
  refused at once, which is checked), then continued.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
from pathlib import Path

from tmdb_devtools.faults.sandbox import mount_available, mounted, unmount

FILLER = ".faults-filler"


def unavailable(kind: str, has_disk: bool) -> str | None:
    """Why this machine cannot inject `kind`, or None."""
    if kind == "disk-full" and not has_disk:
        return f"no filesystem of its own for the data root ({mount_available() or 'the tmpfs mount failed'})"
    if kind == "read-only":
        return mount_available()
    return None


def fill(root: Path) -> Path:
    """Take every free byte of the filesystem holding `root`."""
    filler = root / FILLER
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        stats = os.statvfs(root)
        with contextlib.suppress(OSError):
            os.posix_fallocate(fd, 0, stats.f_bavail * stats.f_frsize)
        block = b"\0" * 4096
        os.lseek(fd, 0, os.SEEK_END)
        while True:  # whatever fallocate left: the last pages
            try:
                os.write(fd, block)
            except OSError as error:
                if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                    break
                raise
    finally:
        os.close(fd)
    return filler


def make_read_only(root: Path) -> None:
    subprocess.run(["mount", "--bind", str(root), str(root)], check=True, capture_output=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(root)], check=True, capture_output=True)


def undo_read_only(root: Path, mounts_before: int) -> None:
    while mounted(root) > mounts_before:
        unmount(root)


def stop(group: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGSTOP)


def cont(group: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGCONT)
