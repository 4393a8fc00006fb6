"""What earlier batches recorded: the latest manifest entry of every file staged or quarantined before.

Entries are only ever compared with files found in the dataset folder: nothing in a manifest decides where
anything is written, so a tampered manifest can at worst make a file be staged again. Reading 620k manifest
lines costs ~4.5 s of CPU, so the result is kept in an index (`.manifest-index.marshal`) that is used while
every manifest is as it was; files whose mtime changed but whose bytes did not are remembered in
`.verified.ndjson`, so they are not read again.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import marshal
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from tmdb_pipeline.landing_zone import existing_batches
from tmdb_pipeline.stage.validate import REASONS

# Files whose mtime changed but whose bytes did not (found by checksum): their new size and mtime, so the
# next run can skip them without reading them again.
VERIFIED_NAME = ".verified.ndjson"
# The manifests' latest entry per file, as read last time, keyed by every manifest's identity.
INDEX_NAME = ".manifest-index.marshal"
INDEX_VERSION = 1

log = logging.getLogger(__name__)


class Prior(NamedTuple):
    size: int
    mtime_ns: int
    sha256: str | None
    reason: str | None


def latest_entries(landing_dir: Path, batches: list[str], *, warn: bool = True) -> dict[str, Prior]:
    """The latest manifest entry per source file across all batches; `warn`: log what could not be read.

    Entries are only ever compared with files found in the dataset folder: nothing in a manifest decides
    where anything is written, so a tampered manifest can at worst make a file be staged again.
    """
    # Hundreds of thousands of new tuples and no cycles among them: the cyclic GC would walk them all,
    # over and over (about half of the load's time).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _latest_entries(landing_dir, batches, warn)
    finally:
        if was_enabled:
            gc.enable()


def _latest_entries(landing_dir: Path, batches: list[str], warn: bool) -> dict[str, Prior]:
    identity = _manifests_identity(landing_dir, batches)
    cached = _read_index(landing_dir, identity)
    if cached is not None:
        return cached
    latest: dict[str, Prior] = {}
    reasons = frozenset(REASONS)
    all_read = True
    for batch in batches:
        manifest = landing_dir / f"batch={batch}" / "manifest.ndjson"
        try:
            data = manifest.read_bytes()
        except OSError as exc:
            if warn:
                log.warning(
                    f"Warning: cannot read {manifest} ({exc.strerror}); its files will be treated as new."
                )
            all_read = False
            continue
        bad = 0
        for row in _manifest_rows(data):
            try:
                prior = Prior(row["size_bytes"], row["mtime_ns"], row["sha256"], row["reason"])
                source_file = row["source_file"]
            except (KeyError, TypeError):
                bad += 1
                continue
            valid = (
                type(source_file) is str
                and type(prior.size) is int
                and type(prior.mtime_ns) is int
                and (prior.sha256 is None or type(prior.sha256) is str)
                and (prior.reason is None or prior.reason in reasons)
            )
            if valid:
                latest[source_file] = prior
            else:
                bad += 1
        if bad:
            if warn:
                log.warning(
                    f"Warning: {bad:,} unreadable line(s) in {manifest} were ignored; "
                    "those files will be staged again."
                )
            all_read = False
    if all_read:  # a manifest with problems is read (and warned about) every time
        _write_index(landing_dir, identity, latest)
    return latest


def index_in_background(landing_dir: Path) -> threading.Thread:
    """Bring the index up to date with the batch just written, in a thread, while the caller goes on (`tmdb
    run` builds with dbt, a process of its own): the next staging run then starts from the index instead of
    re-reading every manifest (~2 s at full size). Warnings are left to that run, which reads the same files.
    """

    def refresh() -> None:
        with contextlib.suppress(OSError):
            latest_entries(landing_dir, existing_batches(landing_dir), warn=False)

    thread = threading.Thread(target=refresh, name="manifest-index")
    thread.start()
    return thread


def _manifests_identity(landing_dir: Path, batches: list[str]) -> list[tuple[str, int, int, int]]:
    """Each batch's manifest as (batch, inode, size, mtime): a rewritten or replaced manifest changes it."""
    identity = []
    for batch in batches:
        try:
            info = os.stat(landing_dir / f"batch={batch}" / "manifest.ndjson")
        except OSError:
            identity.append((batch, -1, -1, -1))
            continue
        identity.append((batch, info.st_ino, info.st_size, info.st_mtime_ns))
    return identity


def _read_index(landing_dir: Path, identity: list[tuple[str, int, int, int]]) -> dict[str, Prior] | None:
    """The cached latest entries, when they were made from exactly these manifests. marshal, not pickle:
    loading it cannot run code, and anything unexpected just means reading the manifests again."""
    try:
        version, stored_identity, names, entries = marshal.loads((landing_dir / INDEX_NAME).read_bytes())
        if version != INDEX_VERSION or stored_identity != identity or len(names) != len(entries):
            return None
        return dict(zip(names, map(functools.partial(tuple.__new__, Prior), entries), strict=True))
    except (OSError, EOFError, ValueError, TypeError):
        return None


def _write_index(
    landing_dir: Path, identity: list[tuple[str, int, int, int]], latest: dict[str, Prior]
) -> None:
    tmp = landing_dir / f"{INDEX_NAME}.{os.getpid()}"
    try:
        tmp.write_bytes(
            marshal.dumps(
                (INDEX_VERSION, identity, list(latest), [tuple(prior) for prior in latest.values()])
            )
        )
        os.replace(tmp, landing_dir / INDEX_NAME)
    except OSError:  # only a cache: the next run reads the manifests again
        tmp.unlink(missing_ok=True)


def load_verified(landing_dir: Path, prior: dict[str, Prior]) -> dict[str, tuple[int, int, str]]:
    """Apply the verified sizes and mtimes to `prior` where their checksum is still the latest one."""
    verified: dict[str, tuple[int, int, str]] = {}
    try:
        data = (landing_dir / VERIFIED_NAME).read_bytes()
    except OSError:
        return verified
    for row in _manifest_rows(data):
        try:
            source_file, size, mtime, sha = row
            latest = prior[source_file]
        except (KeyError, TypeError, ValueError):
            continue
        if latest.sha256 == sha and type(size) is int and type(mtime) is int:
            prior[source_file] = latest._replace(size=size, mtime_ns=mtime)
            verified[source_file] = (size, mtime, sha)
    return verified


def save_verified(
    landing_dir: Path, verified: dict[str, tuple[int, int, str]], found: list[tuple[str, int, int, str]]
) -> None:
    for source_file, size, mtime, sha in found:
        verified[source_file] = (size, mtime, sha)
    tmp = landing_dir / f"{VERIFIED_NAME}.{os.getpid()}"
    with open(tmp, "wb") as out:
        out.writelines(orjson.dumps([name, *entry]) + b"\n" for name, entry in verified.items())
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, landing_dir / VERIFIED_NAME)


def _manifest_rows(data: bytes, block: int = 8 << 20) -> Iterator[Any]:
    """The rows of an NDJSON manifest, parsed a few MB at a time (lines become one JSON array per block).

    A block with a broken line is parsed line by line; a broken line comes out as None.
    """
    start = 0
    while start < len(data):
        end = data.find(b"\n", start + block)
        end = len(data) if end < 0 else end + 1
        chunk = data[start:end].strip()
        start = end
        if not chunk:
            continue
        try:
            yield from orjson.loads(b"[" + chunk.replace(b"\n", b",") + b"]")
        except orjson.JSONDecodeError:
            yield from (_parse_line(line) for line in chunk.splitlines() if line.strip())


def _parse_line(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
