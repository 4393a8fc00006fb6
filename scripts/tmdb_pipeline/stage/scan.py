"""Listing the dataset folder: which files are new or changed since their latest manifest entry.

A file with the size and mtime of its latest manifest entry is counted as unchanged without being read; the
others become work items for the workers (stage.write), sorted by inode, which reads faster from a cold disk.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from tmdb_pipeline import SUBFOLDERS
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.stage.counts import Tally
from tmdb_pipeline.stage.manifests import Prior

# A directory entry to look at: (inode, entity, file name). Workers derive its path and source_file.
Item = tuple[int, str, str]


def source_name(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 are shown as \\xNN escapes."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def list_changed(dataset_dir: Path, prior: dict[str, Prior]) -> tuple[list[Item], Tally]:
    """List both dataset folders. A file with the size and mtime of its latest manifest entry is counted
    as unchanged here; only the others are handed to the workers, which read them."""
    stats = Tally()
    items: list[Item] = []
    for entity, sub in SUBFOLDERS.items():
        folder = dataset_dir / sub
        if not folder.is_dir():
            continue
        listed_before = len(items)
        try:
            # through a folder descriptor, so that each stat resolves one name rather than the whole path
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                with os.scandir(fd) as entries:
                    if prior:
                        items += _changed(entries, entity, sub, prior, stats)
                    else:
                        items += [(entry.inode(), entity, entry.name) for entry in entries]
            finally:
                os.close(fd)
        except OSError as exc:
            raise UserError(f"Cannot list the dataset folder {folder}: {exc.strerror}.") from exc
        stats.seen[entity] = len(items) - listed_before + stats.unchanged[entity]
    items.sort(key=_inode)  # inode order reads faster from a cold disk cache
    return items, stats


def _inode(item: Item) -> int:
    return item[0]


def _changed(
    entries: Iterator[os.DirEntry[str]], entity: str, sub: str, prior: dict[str, Prior], stats: Tally
) -> list[Item]:
    """The entries that are new or changed since their latest manifest entry; the others are counted."""
    changed: list[Item] = []
    unchanged = still_quarantined = 0
    for entry in entries:
        name = entry.name
        before = prior.get(f"{sub}/{name}" if name.isascii() else f"{sub}/{source_name(name)}")
        # unreadable files are always retried: permissions can change without the mtime
        if before is not None and before.reason != "unreadable":
            try:
                st = entry.stat()
            except OSError:
                st = None  # reported when a worker opens it
            if (
                st is not None
                and st.st_size == before.size
                and st.st_mtime_ns == before.mtime_ns
                and stat.S_ISREG(st.st_mode)
            ):
                unchanged += 1  # same size and mtime as last time: not even read
                still_quarantined += before.reason is not None
                continue
        changed.append((entry.inode(), entity, name))
    stats.unchanged[entity] += unchanged
    stats.still_quarantined[entity] += still_quarantined
    return changed
