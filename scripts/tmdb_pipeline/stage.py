"""Stage a dataset folder into the landing zone: one batch folder per run; every file staged or quarantined.

`<landing>/batch=<id>/` holds `movies-<n>.ndjson` and `series-<n>.ndjson` (one line per staged file:
its path, checksum and original document, unchanged), `manifest.ndjson` (one line per file found new or
changed: staged, or quarantined with a reason), `summary.json` (the run's counts) and `quarantine/`
(a copy of each quarantined file, named by checksum). A batch is built in `<landing>/.tmp/` and renamed
into place when complete, so readers see all of it or none of it. A file is unchanged when its size and
modification time match its latest manifest entry, or failing that when its checksum does (its new mtime
is then remembered in `<landing>/.verified.ndjson`, so it is not read again); staging the same input
twice writes no second batch.

    python -m tmdb_pipeline.stage DATASET_DIR [--landing DIR] [--source-label TEXT] [--workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import functools
import gc
import hashlib
import marshal
import os
import re
import shutil
import stat
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from tmdb_pipeline import ENTITIES
from tmdb_pipeline.errors import LockedError, UserError

SUBFOLDERS = {"movies": "movies/movies", "series": "series/series"}
REASONS = ("invalid_json", "empty_file", "not_utf8", "not_an_object", "missing_id", "invalid_id",
           "oversized", "wrong_entity", "not_json_file", "unreadable")  # fmt: skip
# The largest real document is about 17 KB (a long-running series); 8 MiB is far above any of them and
# still small enough to parse in memory. DuckDB's reader allows objects up to 64 MiB.
MAX_DOC_BYTES = 8 * 1024 * 1024
MAX_ID = 2**63 - 1  # tmdb_id is a BIGINT in the warehouse
CHUNK_FILES = 1_000  # files per task handed to a worker process
PROGRESS_MIN_FILES = 5_000  # show a progress bar (on a terminal) only for runs at least this long
LOCK_NAME = ".stage.lock"
TMP_NAME = ".tmp"
# Files whose mtime changed but whose bytes did not (found by checksum): their new size and mtime, so the
# next run can skip them without reading them again.
VERIFIED_NAME = ".verified.ndjson"
# The manifests' latest entry per file, as read last time, keyed by every manifest's identity: parsing and
# checking 620k manifest lines took ~4.5 s of CPU, most of a re-run with nothing new.
INDEX_NAME = ".manifest-index.marshal"
INDEX_VERSION = 1
_BATCH_RE = re.compile(r"^batch=(b\d{6})$")
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)

# Top-level keys only one of the two entities has: a document with several of the other entity's keys
# and none of its own is in the wrong folder.
# fmt: off
_OWN_KEYS = {
    "movies": frozenset({"title", "original_title", "release_date", "runtime", "imdb_id", "budget",
                         "revenue", "video", "belongs_to_collection", "tagline", "spoken_languages",
                         "production_countries"}),
    "series": frozenset({"name", "original_name", "first_air_date", "last_air_date", "number_of_seasons",
                         "number_of_episodes", "seasons", "networks", "episode_run_time", "in_production",
                         "created_by", "languages", "last_episode_to_air", "next_episode_to_air", "type"}),
}
# fmt: on


@dataclass
class StageResult:
    batch_id: str | None  # None when nothing was new (no batch written)
    landing_dir: Path
    seen: dict[str, int]
    staged: dict[str, int]
    quarantined: dict[str, int]
    unchanged: dict[str, int]
    reasons: dict[str, int]  # quarantine reason -> count
    elapsed_s: float
    # of the unchanged files, those whose latest verdict was quarantine
    still_quarantined: dict[str, int] = field(default_factory=dict)
    bytes_read: int = 0


# A directory entry to look at: (inode, entity, file name). Workers derive its path and source_file.
Item = tuple[int, str, str]


def stage(
    dataset_dir: Path,
    landing_dir: Path,
    *,
    source_label: str,
    workers: int = 2,
    progress: bool | None = None,
    announce: Callable[[str], None] = print,
) -> StageResult:
    """Stage every new or changed file of `dataset_dir` into a new batch of `landing_dir`."""
    started = time.perf_counter()
    started_at = _utc_now()
    dataset_dir, landing_dir = Path(dataset_dir), Path(landing_dir)
    _check_dataset(dataset_dir)
    _make_landing(landing_dir)
    with _stage_lock(landing_dir):
        tmp_root = landing_dir / TMP_NAME
        if tmp_root.is_symlink():  # never build a batch through a link to somewhere else
            tmp_root.unlink()
        shutil.rmtree(tmp_root, ignore_errors=True)  # leftovers of a killed run; we hold the lock
        for stale in landing_dir.glob(f"{VERIFIED_NAME}.*"):
            stale.unlink()
        batches = existing_batches(landing_dir)
        prior = _load_manifests(landing_dir, batches, announce)
        verified = _load_verified(landing_dir, prior)
        timings = {"manifests_s": time.perf_counter() - started}
        items, stats = _scan(dataset_dir, prior)
        if not sum(stats.seen.values()):
            raise UserError(
                f"The dataset folder {dataset_dir} has no files in movies/movies or series/series: "
                "nothing to stage. Check that the download or copy finished."
            )
        timings["scan_s"] = time.perf_counter() - started - timings["manifests_s"]
        batch_id = f"b{int(batches[-1][1:]) + 1 if batches else 1:06d}"
        tmp_batch = tmp_root / f"batch={batch_id}"
        try:
            _make_dirs(tmp_batch / "quarantine")
            before = time.perf_counter()
            work = _Work(str(dataset_dir), str(tmp_batch), started_at, items, prior)
            stats.merge(_process(work, workers, progress))
            timings["read_and_write_s"] = time.perf_counter() - before
            if stats.verified:
                _save_verified(landing_dir, verified, stats.verified)
            if not stats.new_files():
                shutil.rmtree(tmp_root, ignore_errors=True)
                result = stats.result(None, landing_dir, time.perf_counter() - started)
                announce(_describe_noop(result, source_label, batches[-1] if batches else None))
                return result
            result = stats.result(batch_id, landing_dir, time.perf_counter() - started)
            meta = {
                "source": source_label,
                "dataset_dir": str(dataset_dir),
                "started_at": started_at,
                "workers": workers,
                "timings_s": {name: round(seconds, 3) for name, seconds in timings.items()},
            }
            _finish_batch(tmp_batch, landing_dir / f"batch={batch_id}", result, meta)
            result.elapsed_s = round(time.perf_counter() - started, 3)
        except OSError as exc:
            shutil.rmtree(tmp_root, ignore_errors=True)
            raise _write_error(exc, landing_dir) from exc
        except BaseException:
            shutil.rmtree(tmp_root, ignore_errors=True)
            raise
    announce(_describe(result, source_label))
    return result


# ----------------------------------------------------------------------------------------------------
# Landing zone: folders, lock, earlier batches


def _check_dataset(dataset_dir: Path) -> None:
    if not dataset_dir.is_dir():
        raise UserError(f"The dataset folder {dataset_dir} does not exist or is not a folder.")
    if not any((dataset_dir / sub).is_dir() for sub in SUBFOLDERS.values()):
        raise UserError(
            f"{dataset_dir} has neither movies/movies nor series/series: expected the Kaggle dataset's "
            "layout, FOLDER/movies/movies/movie_<id>.json and FOLDER/series/series/series_<id>.json."
        )


def _make_landing(landing_dir: Path) -> None:
    try:
        landing_dir.mkdir(parents=True, exist_ok=True)
        probe = landing_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise _write_error(exc, landing_dir) from exc


def _make_dirs(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


def _write_error(exc: OSError, landing_dir: Path) -> UserError:
    if exc.errno in _DISK_FULL:
        return UserError(
            f"Staging stopped: the disk holding the landing zone {landing_dir} is full "
            f"({exc.strerror}). No batch was written. Free some space and run again."
        )
    where = exc.filename or landing_dir
    return UserError(
        f"Staging stopped: cannot write to the landing zone {landing_dir} ({exc.strerror}: {where}). "
        "No batch was written. Make the folder writable, or point TMDB_LANDING_DIR elsewhere."
    )


@contextmanager
def _stage_lock(landing_dir: Path) -> Iterator[None]:
    """One staging run per landing zone at a time (an advisory lock, released when its process ends)."""
    path = landing_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _write_error(exc, landing_dir) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise LockedError(
            f"Another staging run (PID {holder}) is writing to the landing zone {landing_dir}: it holds the "
            f"lock file {path}. Wait for it to finish, then run again. The lock goes away by itself when "
            "that process ends, so there is nothing to delete."
        ) from None
    except OSError as exc:  # e.g. a network filesystem without locks
        os.close(fd)
        raise UserError(
            f"Cannot lock the landing zone {landing_dir} ({exc.strerror}): staging needs a local folder "
            "that supports file locks. Point TMDB_LANDING_DIR at one."
        ) from exc
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def existing_batches(landing_dir: Path) -> list[str]:
    """Complete batches in the landing zone, oldest first."""
    try:
        names = os.listdir(landing_dir)
    except FileNotFoundError:
        return []
    return sorted(
        m.group(1) for name in names if (m := _BATCH_RE.match(name)) and (landing_dir / name).is_dir()
    )


class _Prior(NamedTuple):
    size: int
    mtime_ns: int
    sha256: str | None
    reason: str | None


def _load_manifests(
    landing_dir: Path, batches: list[str], announce: Callable[[str], None]
) -> dict[str, _Prior]:
    """The latest manifest entry per source file across all batches.

    Entries are only ever compared with files found in the dataset folder: nothing in a manifest decides
    where anything is written, so a tampered manifest can at worst make a file be staged again.
    """
    # Hundreds of thousands of new tuples and no cycles among them: the cyclic GC would walk them all,
    # over and over (about half of the load's time).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _latest_entries(landing_dir, batches, announce)
    finally:
        if was_enabled:
            gc.enable()


def _latest_entries(
    landing_dir: Path, batches: list[str], announce: Callable[[str], None]
) -> dict[str, _Prior]:
    identity = _manifests_identity(landing_dir, batches)
    cached = _read_index(landing_dir, identity)
    if cached is not None:
        return cached
    latest: dict[str, _Prior] = {}
    reasons = frozenset(REASONS)
    all_read = True
    for batch in batches:
        manifest = landing_dir / f"batch={batch}" / "manifest.ndjson"
        try:
            data = manifest.read_bytes()
        except OSError as exc:
            announce(f"Warning: cannot read {manifest} ({exc.strerror}); its files will be treated as new.")
            all_read = False
            continue
        bad = 0
        for row in _manifest_rows(data):
            try:
                prior = _Prior(row["size_bytes"], row["mtime_ns"], row["sha256"], row["reason"])
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
            announce(
                f"Warning: {bad:,} unreadable line(s) in {manifest} were ignored; "
                "those files will be staged again."
            )
            all_read = False
    if all_read:  # a manifest with problems is read (and warned about) every time
        _write_index(landing_dir, identity, latest)
    return latest


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


def _read_index(landing_dir: Path, identity: list[tuple[str, int, int, int]]) -> dict[str, _Prior] | None:
    """The cached latest entries, when they were made from exactly these manifests. marshal, not pickle:
    loading it cannot run code, and anything unexpected just means reading the manifests again."""
    try:
        version, stored_identity, names, entries = marshal.loads((landing_dir / INDEX_NAME).read_bytes())
        if version != INDEX_VERSION or stored_identity != identity or len(names) != len(entries):
            return None
        return dict(zip(names, map(functools.partial(tuple.__new__, _Prior), entries), strict=True))
    except (OSError, EOFError, ValueError, TypeError):
        return None


def _write_index(
    landing_dir: Path, identity: list[tuple[str, int, int, int]], latest: dict[str, _Prior]
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


def _load_verified(landing_dir: Path, prior: dict[str, _Prior]) -> dict[str, tuple[int, int, str]]:
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


def _save_verified(
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


# ----------------------------------------------------------------------------------------------------
# Scanning the dataset folder


@dataclass
class _Stats:
    seen: Counter[str] = field(default_factory=Counter)
    staged: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    still_quarantined: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    bytes_read: int = 0
    # files read again because their mtime changed, found identical: (source_file, size, mtime_ns, sha256)
    verified: list[tuple[str, int, int, str]] = field(default_factory=list)

    def merge(self, other: _Stats) -> None:
        for name in ("seen", "staged", "quarantined", "unchanged", "still_quarantined", "reasons"):
            getattr(self, name).update(getattr(other, name))
        self.bytes_read += other.bytes_read
        self.verified += other.verified

    def new_files(self) -> int:
        return sum(self.staged.values()) + sum(self.quarantined.values())

    def result(self, batch_id: str | None, landing_dir: Path, elapsed: float) -> StageResult:
        def per_entity(counter: Counter[str]) -> dict[str, int]:
            return {entity: counter[entity] for entity in ENTITIES}

        return StageResult(
            batch_id=batch_id,
            landing_dir=landing_dir,
            seen=per_entity(self.seen),
            staged=per_entity(self.staged),
            quarantined=per_entity(self.quarantined),
            unchanged=per_entity(self.unchanged),
            reasons={reason: self.reasons[reason] for reason in REASONS if self.reasons[reason]},
            elapsed_s=round(elapsed, 3),
            still_quarantined=per_entity(self.still_quarantined),
            bytes_read=self.bytes_read,
        )


def _source_name(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 are shown as \\xNN escapes."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _scan(dataset_dir: Path, prior: dict[str, _Prior]) -> tuple[list[Item], _Stats]:
    """List both dataset folders. A file with the size and mtime of its latest manifest entry is counted
    as unchanged here; only the others are handed to the workers, which read them."""
    stats = _Stats()
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
    entries: Iterator[os.DirEntry[str]], entity: str, sub: str, prior: dict[str, _Prior], stats: _Stats
) -> list[Item]:
    """The entries that are new or changed since their latest manifest entry; the others are counted."""
    changed: list[Item] = []
    unchanged = still_quarantined = 0
    for entry in entries:
        name = entry.name
        before = prior.get(f"{sub}/{name}" if name.isascii() else f"{sub}/{_source_name(name)}")
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


# ----------------------------------------------------------------------------------------------------
# Reading, validating and writing (runs in worker processes)


class _Work(NamedTuple):
    dataset_dir: str
    tmp_batch: str
    staged_at: str
    items: list[Item]
    prior: dict[str, _Prior]  # latest manifest entry per source_file


_worker_index = 0
_shared_work: _Work | None = None  # inherited by forked workers, whose tasks are then index ranges


def _init_worker(counter: Any) -> None:
    global _worker_index
    with counter.get_lock():
        _worker_index = counter.value
        counter.value += 1


def _process(work: _Work, workers: int, progress: bool | None) -> _Stats:
    global _shared_work
    stats = _Stats()
    total = len(work.items)
    ranges = [(i, min(i + CHUNK_FILES, total)) for i in range(0, total, CHUNK_FILES)]
    show = progress if progress is not None else (sys.stderr.isatty() and total >= PROGRESS_MIN_FILES)
    if workers <= 1 or len(ranges) <= 1:
        bar = _progress_bar(total, show)
        for start, stop in ranges:
            stats.merge(process_chunk(_slice(work, start, stop)))
            bar.update(stop - start)
        bar.close()
        return stats
    ctx = _mp_context()
    forked = ctx.get_start_method() == "fork"
    _shared_work = work if forked else None
    try:
        with ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_init_worker, initargs=(ctx.Value("i", 0),)
        ) as pool:
            futures = {}
            for start, stop in ranges:
                task = (start, stop) if forked else _slice(work, start, stop)
                futures[pool.submit(process_chunk, task)] = stop - start
            bar = _progress_bar(total, show)  # after the workers are forked: no tqdm thread in them
            pending = set(futures)
            try:
                while pending:
                    done, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
                    for future in done:
                        stats.merge(future.result())
                        bar.update(futures[future])
            except BrokenProcessPool as exc:
                raise UserError(
                    "Staging stopped: a worker process died (out of memory, or killed). "
                    "No batch was written; run again."
                ) from exc
            finally:
                bar.close()
                for future in pending:
                    future.cancel()
    finally:
        _shared_work = None
    return stats


def _slice(work: _Work, start: int, stop: int) -> _Work:
    """Part of the work, with only the manifest entries it needs (for workers that inherit nothing)."""
    items = work.items[start:stop]
    prior = {}
    for _, entity, name in items:
        source_file = f"{SUBFOLDERS[entity]}/{_source_name(name)}"
        if source_file in work.prior:
            prior[source_file] = work.prior[source_file]
    return work._replace(items=items, prior=prior)


def _progress_bar(total: int, show: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit="file",
        unit_scale=True,
        desc="Staging",
        file=sys.stderr,
        disable=not show,
        mininterval=0.5,
        smoothing=0.05,
        dynamic_ncols=True,
    )


def _mp_context() -> Any:
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else methods[0])


def process_chunk(task: _Work | tuple[int, int]) -> _Stats:
    """Check some files: skip the unchanged, validate the rest, and append staged documents and manifest
    lines to this worker's part files. `task` is the work itself, or a range of the inherited work list."""
    if isinstance(task, _Work):
        work = task
    else:
        assert _shared_work is not None
        work = _slice_shared(_shared_work, *task)
    stats = _Stats()
    lines: dict[str, list[bytes]] = {"movies": [], "series": []}
    manifest: list[bytes] = []
    prior_of, quarantine_dir = work.prior, f"{work.tmp_batch}/quarantine"
    # the manifest line of a staged file, as a template (orjson for the parts that need escaping)
    staged_rows = {
        entity: b'{"source_file":%b,"entity":"' + entity.encode() + b'","size_bytes":%d,"mtime_ns":%d,'
        b'"sha256":"%b","status":"staged","reason":null,"detail":null,"tmdb_id":%d,"staged_at":"'
        + work.staged_at.encode()
        + b'"}\n'
        for entity in SUBFOLDERS
    }
    for _, entity, name in work.items:
        sub = SUBFOLDERS[entity]
        path = f"{work.dataset_dir}/{sub}/{name}"
        source_file = f"{sub}/{name}" if name.isascii() else f"{sub}/{_source_name(name)}"
        before = prior_of.get(source_file)  # the scan found it new, or changed in size or mtime
        prior_sha = before.sha256 if before is not None else None
        size, mtime, sha, reason, detail, tmdb_id, doc = _examine(
            path, entity, prior_sha, quarantine_dir, stats
        )
        if before is not None and (
            (sha is not None and sha == prior_sha)
            or (reason == "unreadable" and before.reason == "unreadable")
        ):
            stats.unchanged[entity] += 1  # content (or unreadability) as last time: nothing new to record
            if before.reason is not None:
                stats.still_quarantined[entity] += 1
            if sha is not None:
                stats.verified.append((source_file, size, mtime, sha))
            continue
        source_json = orjson.dumps(source_file)
        if reason is None:
            assert sha is not None and doc is not None and tmdb_id is not None
            stats.staged[entity] += 1
            sha_bytes = sha.encode()
            lines[entity].append(
                b'{"source_file":%b,"file_sha256":"%b","doc":%b}\n' % (source_json, sha_bytes, doc)
            )
            manifest.append(staged_rows[entity] % (source_json, size, mtime, sha_bytes, tmdb_id))
            continue
        stats.quarantined[entity] += 1
        stats.reasons[reason] += 1
        row = {
            "source_file": source_file,
            "entity": entity,
            "size_bytes": size,
            "mtime_ns": mtime,
            "sha256": sha,
            "status": "quarantined",
            "reason": reason,
            "detail": detail,
            "tmdb_id": tmdb_id,
            "staged_at": work.staged_at,
        }
        manifest.append(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
    for entity, entity_lines in lines.items():
        if entity_lines:
            with open(f"{work.tmp_batch}/{entity}-{_worker_index}.ndjson", "ab") as out:
                out.writelines(entity_lines)
    if manifest:
        with open(f"{work.tmp_batch}/.manifest-{_worker_index}.part", "ab") as out:
            out.writelines(manifest)
    return stats


def _slice_shared(work: _Work, start: int, stop: int) -> _Work:
    return work._replace(items=work.items[start:stop])


Examined = tuple[int, int, "str | None", "str | None", "str | None", "int | None", "bytes | None"]


def _examine(path: str, entity: str, prior_sha: str | None, quarantine_dir: str, stats: _Stats) -> Examined:
    """Read and check one file: (size, mtime_ns, sha256, reason, detail, tmdb_id, document bytes to stage).

    A reason means quarantine; the file's bytes are then copied into the batch's quarantine, unless they
    are the same as last time (the caller then counts the file as unchanged). Errors reading the file
    make it unreadable; errors writing the landing zone are raised.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # non-blocking: a FIFO must not hang the run
    except OSError as exc:  # e.g. a dangling symlink, no permission
        return 0, 0, None, "unreadable", _os_detail(exc), None, None
    try:
        return _examine_open(fd, path, entity, prior_sha, quarantine_dir, stats)
    finally:
        os.close(fd)


def _examine_open(
    fd: int, path: str, entity: str, prior_sha: str | None, quarantine_dir: str, stats: _Stats
) -> Examined:
    try:
        st = os.fstat(fd)
    except OSError as exc:
        return 0, 0, None, "unreadable", _os_detail(exc), None, None
    size, mtime = st.st_size, st.st_mtime_ns
    if not stat.S_ISREG(st.st_mode):
        return size, mtime, None, "unreadable", _not_a_file(st.st_mode), None, None
    if size > MAX_DOC_BYTES:
        try:
            return (size, mtime, *_oversized(fd, size, prior_sha, quarantine_dir, stats))
        except _ReadError as exc:
            return size, mtime, None, "unreadable", _os_detail(exc.cause), None, None
    try:
        data = os.read(fd, size + 1)  # one read for the whole file
        if len(data) > size:  # it grew since fstat
            rest = [data]
            while block := os.read(fd, 1 << 20):
                rest.append(block)
            data = b"".join(rest)
    except OSError as exc:
        return size, mtime, None, "unreadable", _os_detail(exc), None, None
    stats.bytes_read += len(data)
    sha = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_DOC_BYTES:
        reason, detail, tmdb_id, doc = "oversized", _oversized_detail(len(data)), None, None
    else:
        reason, detail, tmdb_id, doc = check_document(data, entity, path)
    if reason is not None and sha != prior_sha:
        _quarantine_copy(data, sha, quarantine_dir)
    return size, mtime, sha, reason, detail, tmdb_id, doc


def _oversized(
    fd: int, size: int, prior_sha: str | None, quarantine_dir: str, stats: _Stats
) -> tuple[str | None, str | None, str | None, int | None, bytes | None]:
    """A file far too large for a document: checksummed and copied in blocks, never held in memory."""
    sha, partial = _hash_and_copy(fd, quarantine_dir)
    stats.bytes_read += size
    target = f"{quarantine_dir}/{sha}.bin"
    if sha == prior_sha or os.path.exists(target):
        os.unlink(partial)
    else:
        os.replace(partial, target)
    return sha, "oversized", _oversized_detail(size), None, None


def _oversized_detail(size: int) -> str:
    return f"{size:,} bytes; the limit is {MAX_DOC_BYTES:,}"


def _not_a_file(mode: int) -> str:
    return "a folder, not a file" if stat.S_ISDIR(mode) else "not a regular file"


def check_document(
    data: bytes, entity: str, name: str
) -> tuple[str | None, str | None, int | None, bytes | None]:
    """Decide one file: (reason, detail, tmdb_id, document bytes to stage). A reason means quarantine.

    Only the shape the landing zone promises is checked: one JSON object with a positive integer id, in
    the right folder. Fields of the wrong type and unknown fields pass unchanged: dbt staging types and
    flags them.
    """
    if not (name.endswith(".json") or name.lower().endswith(".json")):
        return "not_json_file", "the file name does not end in .json", None, None
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if not data.strip():
            return "empty_file", f"{len(data)} bytes of whitespace only" if data else "0 bytes", None, None
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            return (
                "not_utf8",
                f"byte 0x{data[bad.start]:02x} at offset {bad.start} is not valid UTF-8",
                None,
                None,
            )
        return "invalid_json", str(exc)[:300], None, None
    if type(doc) is not dict:
        return "not_an_object", f"the top level is {_json_kind(doc)}, not an object", None, None
    if "id" not in doc:
        return "missing_id", 'the object has no "id"', None, None
    tmdb_id = doc["id"]
    if type(tmdb_id) is not int or not 0 < tmdb_id <= MAX_ID:
        return (
            "invalid_id",
            f"id is {_json_kind(tmdb_id)} {_short(tmdb_id)}, not a positive integer",
            None,
            None,
        )
    other = "series" if entity == "movies" else "movies"
    keys = doc.keys()
    if _OWN_KEYS[entity].isdisjoint(keys):
        foreign = sorted(_OWN_KEYS[other].intersection(keys))
        if len(foreign) >= 2:
            what = "a series" if other == "series" else "a movie"
            return "wrong_entity", f"looks like {what} ({', '.join(foreign[:4])}) in {entity}/", tmdb_id, None
    doc_bytes = data.strip() if data[:1].isspace() or data[-1:].isspace() else data
    if b"\n" in doc_bytes or b"\r" in doc_bytes:
        # JSON strings cannot hold raw line breaks, so every CR/LF here is whitespace between tokens.
        doc_bytes = doc_bytes.replace(b"\r", b" ").replace(b"\n", b" ")
    return None, None, tmdb_id, doc_bytes


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction" if value != int(value) else "a decimal number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _short(value: Any) -> str:
    text = (
        orjson.dumps(value).decode() if not isinstance(value, int) or isinstance(value, bool) else str(value)
    )
    return text if len(text) <= 40 else text[:37] + "..."


def _os_detail(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


class _ReadError(Exception):
    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _quarantine_copy(data: bytes, sha: str, quarantine_dir: str) -> None:
    """Keep the bytes of a quarantined file, named by checksum: never by anything the input controls."""
    try:
        fd = os.open(f"{quarantine_dir}/{sha}.bin", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return  # the same bytes, already kept in this batch
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _hash_and_copy(fd: int, quarantine_dir: str) -> tuple[str, str]:
    """Checksum an open file while copying it; returns (sha256, the copy's path). Read errors raise
    _ReadError, write errors OSError."""
    digest = hashlib.sha256()
    partial = f"{quarantine_dir}/.partial-{os.getpid()}"
    with open(partial, "wb") as out:
        while True:
            try:
                block = os.read(fd, 1 << 20)
            except OSError as exc:
                raise _ReadError(exc) from exc
            if not block:
                break
            digest.update(block)
            out.write(block)
    return digest.hexdigest(), partial


# ----------------------------------------------------------------------------------------------------
# Completing a batch


def _finish_batch(tmp_batch: Path, final: Path, result: StageResult, meta: dict[str, Any]) -> None:
    """Merge the manifest parts, write the summary, make everything durable, then rename into place."""
    parts = sorted(tmp_batch.glob(".manifest-*.part"))
    with open(tmp_batch / "manifest.ndjson", "wb") as manifest:
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, manifest, 1 << 20)
    for part in parts:
        part.unlink()
    summary = {
        "batch_id": result.batch_id,
        "source": meta["source"],
        "dataset_dir": meta["dataset_dir"],
        "started_at": meta["started_at"],
        "finished_at": _utc_now(),
        "elapsed_s": result.elapsed_s,
        "timings_s": meta["timings_s"],
        "workers": meta["workers"],
        "bytes_read": result.bytes_read,
        "entities": {
            entity: {
                "seen": result.seen[entity],
                "staged": result.staged[entity],
                "quarantined": result.quarantined[entity],
                "unchanged": result.unchanged[entity],
                "still_quarantined": result.still_quarantined[entity],
            }
            for entity in ENTITIES
        },
        "reasons": result.reasons,
    }
    (tmp_batch / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")
    quarantine = tmp_batch / "quarantine"
    for folder in (quarantine, tmp_batch):
        for name in os.listdir(folder):
            if not os.path.isdir(folder / name):
                _fsync_path(folder / name, os.O_RDONLY)
        _fsync_path(folder, os.O_RDONLY | os.O_DIRECTORY)
    os.rename(tmp_batch, final)
    _fsync_path(final.parent, os.O_RDONLY | os.O_DIRECTORY)
    with contextlib.suppress(OSError):
        tmp_batch.parent.rmdir()


def _fsync_path(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _counts_line(result: StageResult, entity: str) -> str:
    line = (
        f"  {entity}: {result.seen[entity]:,} seen, {result.staged[entity]:,} staged, "
        f"{result.quarantined[entity]:,} quarantined, {result.unchanged[entity]:,} unchanged"
    )
    still = result.still_quarantined.get(entity, 0)
    return line + (f" ({still:,} of them still quarantined)" if still else "")


def _describe(result: StageResult, source_label: str) -> str:
    batch_dir = result.landing_dir / f"batch={result.batch_id}"
    lines = [f"Staged batch {result.batch_id} from the {source_label} in {result.elapsed_s:.1f} s:"]
    lines += [_counts_line(result, entity) for entity in ENTITIES]
    if result.reasons:
        reasons = ", ".join(f"{reason} {count:,}" for reason, count in result.reasons.items())
        lines.append(
            f"  quarantined files by reason: {reasons}; see {batch_dir}/manifest.ndjson and "
            f"{batch_dir}/quarantine/"
        )
    return "\n".join(lines)


def _describe_noop(result: StageResult, source_label: str, last_batch: str | None) -> str:
    total = sum(result.seen.values())
    since = f" since batch {last_batch}" if last_batch else ""
    lines = [
        f"Nothing new to stage from the {source_label}: all {total:,} files are unchanged{since}, "
        "so no batch was written."
    ]
    lines += [_counts_line(result, entity) for entity in ENTITIES]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tmdb_pipeline.stage", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("dataset_dir", type=Path, help="folder holding movies/movies and/or series/series")
    parser.add_argument(
        "--landing", type=Path, help="landing zone (default: the data folder of this dataset)"
    )
    parser.add_argument(
        "--source-label", default=None, help="how summaries name the data (default: the folder)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args(argv)
    from tmdb_pipeline import paths

    landing = args.landing or paths.landing_dir(paths.data_dir_for(str(args.dataset_dir)))
    try:
        stage(
            args.dataset_dir,
            landing,
            source_label=args.source_label or f"folder {args.dataset_dir}",
            workers=args.workers,
            progress=args.progress,
        )
    except UserError as exc:
        print(exc, file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
