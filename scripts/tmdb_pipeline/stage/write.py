"""Reading, checking and writing the files of a batch, in worker processes.

Each worker takes ranges of the scanned items, reads every file once (one `read`), checksums it, decides it
(stage.validate) and appends the staged documents and the manifest lines to part files of its own in the
batch being built; quarantined bytes are copied into the batch's quarantine/, named by checksum. The rows
written are the landing-zone contract's columns (tmdb_pipeline.landing_zone), checked before any file
is read.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, NamedTuple

import orjson

from tmdb_pipeline import SUBFOLDERS
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.landing_zone import contract
from tmdb_pipeline.processes import mp_context
from tmdb_pipeline.stage.counts import Tally
from tmdb_pipeline.stage.manifests import Prior
from tmdb_pipeline.stage.scan import Item, source_name
from tmdb_pipeline.stage.validate import MAX_DOC_BYTES, check_document, oversized_detail

CHUNK_FILES = 1_000  # files per task handed to a worker process
PROGRESS_MIN_FILES = 5_000  # show a progress bar (on a terminal) only for runs at least this long
# The columns the writer fills, in the order it writes them: the landing-zone contract's, or staging stops.
DOCUMENT_COLUMNS = ("source_file", "file_sha256", "doc")
MANIFEST_COLUMNS = ("source_file", "entity", "size_bytes", "mtime_ns", "sha256", "status", "reason", "detail",
                    "tmdb_id", "staged_at")  # fmt: skip


def check_contract() -> None:
    """Stop before reading a file when the rows this writer makes are not the declared landing zone."""
    declared = contract()
    declared.check_writer("documents", DOCUMENT_COLUMNS)
    declared.check_writer("manifest", MANIFEST_COLUMNS)


def _staged_manifest_template(entity: str, staged_at: str) -> bytes:
    """The manifest line of a staged file as a bytes template, one fragment per contract column in order;
    the %-placeholders (source_file, size_bytes, mtime_ns, sha256, tmdb_id) are filled per file."""
    fragment = {
        "source_file": b"%b",
        "entity": orjson.dumps(entity),
        "size_bytes": b"%d",
        "mtime_ns": b"%d",
        "sha256": b'"%b"',
        "status": b'"staged"',
        "reason": b"null",
        "detail": b"null",
        "tmdb_id": b"%d",
        "staged_at": orjson.dumps(staged_at),
    }
    return (
        b"{"
        + b",".join(orjson.dumps(column) + b":" + fragment[column] for column in MANIFEST_COLUMNS)
        + b"}\n"
    )


class Work(NamedTuple):
    dataset_dir: str
    tmp_batch: str
    staged_at: str
    items: list[Item]
    prior: dict[str, Prior]  # latest manifest entry per source_file


_worker_index = 0
_shared_work: Work | None = None  # inherited by forked workers, whose tasks are then index ranges


def _init_worker(counter: Any) -> None:
    global _worker_index
    with counter.get_lock():
        _worker_index = counter.value
        counter.value += 1


def process(work: Work, workers: int, progress: bool | None) -> Tally:
    global _shared_work
    stats = Tally()
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
    ctx = mp_context()
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


def _slice(work: Work, start: int, stop: int) -> Work:
    """Part of the work, with only the manifest entries it needs (for workers that inherit nothing)."""
    items = work.items[start:stop]
    prior = {}
    for _, entity, name in items:
        source_file = f"{SUBFOLDERS[entity]}/{source_name(name)}"
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


def process_chunk(task: Work | tuple[int, int]) -> Tally:
    """Check some files: skip the unchanged, validate the rest, and append staged documents and manifest
    lines to this worker's part files. `task` is the work itself, or a range of the inherited work list."""
    if isinstance(task, Work):
        work = task
    else:
        assert _shared_work is not None
        work = _slice_shared(_shared_work, *task)
    stats = Tally()
    lines: dict[str, list[bytes]] = {"movies": [], "series": []}
    manifest: list[bytes] = []
    prior_of, quarantine_dir = work.prior, f"{work.tmp_batch}/quarantine"
    # the document line, its columns in DOCUMENT_COLUMNS order: source_file and doc are JSON already
    document_line = b'{"source_file":%b,"file_sha256":"%b","doc":%b}\n'
    staged_rows = {entity: _staged_manifest_template(entity, work.staged_at) for entity in SUBFOLDERS}
    entities = {entity for _, entity, _ in work.items}
    folders = {entity: _open_folder(work.dataset_dir, SUBFOLDERS[entity]) for entity in entities}
    try:
        _check_files(
            work, folders, stats, lines, manifest, document_line, staged_rows, prior_of, quarantine_dir
        )
    finally:
        for fd in folders.values():
            os.close(fd)
    for entity, entity_lines in lines.items():
        if entity_lines:
            with open(f"{work.tmp_batch}/{entity}-{_worker_index}.ndjson", "ab") as out:
                out.writelines(entity_lines)
    if manifest:
        with open(f"{work.tmp_batch}/.manifest-{_worker_index}.part", "ab") as out:
            out.writelines(manifest)
    return stats


def _open_folder(dataset_dir: str, sub: str) -> int:
    """A dataset folder, open: each file is then opened by its name in it, so the kernel resolves one name
    rather than the whole path (a tenth of the time staging spends per file)."""
    try:
        return os.open(f"{dataset_dir}/{sub}", os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise UserError(
            f"Staging stopped: the dataset folder {dataset_dir}/{sub} cannot be opened any more "
            f"({exc.strerror}). No batch was written; check the folder and run again."
        ) from None


def _check_files(
    work: Work,
    folders: dict[str, int],
    stats: Tally,
    lines: dict[str, list[bytes]],
    manifest: list[bytes],
    document_line: bytes,
    staged_rows: dict[str, bytes],
    prior_of: dict[str, Prior],
    quarantine_dir: str,
) -> None:
    """The loop over one chunk's files: every file staged, quarantined or found unchanged."""
    for _, entity, name in work.items:
        sub = SUBFOLDERS[entity]
        source_file = f"{sub}/{name}" if name.isascii() else f"{sub}/{source_name(name)}"
        before = prior_of.get(source_file)  # the scan found it new, or changed in size or mtime
        prior_sha = before.sha256 if before is not None else None
        size, mtime, sha, reason, detail, tmdb_id, doc = _examine(
            folders[entity], name, entity, prior_sha, quarantine_dir, stats
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
            lines[entity].append(document_line % (source_json, sha_bytes, doc))
            manifest.append(staged_rows[entity] % (source_json, size, mtime, sha_bytes, tmdb_id))
            continue
        stats.quarantined[entity] += 1
        stats.reasons[reason] += 1
        values = (
            source_file,
            entity,
            size,
            mtime,
            sha,
            "quarantined",
            reason,
            detail,
            tmdb_id,
            work.staged_at,
        )
        row = dict(zip(MANIFEST_COLUMNS, values, strict=True))
        manifest.append(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))


def _slice_shared(work: Work, start: int, stop: int) -> Work:
    return work._replace(items=work.items[start:stop])


Examined = tuple[int, int, "str | None", "str | None", "str | None", "int | None", "bytes | None"]


def _examine(
    folder: int, name: str, entity: str, prior_sha: str | None, quarantine_dir: str, stats: Tally
) -> Examined:
    """Read and check one file: (size, mtime_ns, sha256, reason, detail, tmdb_id, document bytes to stage).

    A reason means quarantine; the file's bytes are then copied into the batch's quarantine, unless they
    are the same as last time (the caller then counts the file as unchanged). Errors reading the file
    make it unreadable; errors writing the landing zone are raised.
    """
    try:  # non-blocking: a FIFO must not hang the run
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK, dir_fd=folder)
    except OSError as exc:  # e.g. a dangling symlink, no permission
        return 0, 0, None, "unreadable", _os_detail(exc), None, None
    try:
        return _examine_open(fd, name, entity, prior_sha, quarantine_dir, stats)
    finally:
        os.close(fd)


def _examine_open(
    fd: int, name: str, entity: str, prior_sha: str | None, quarantine_dir: str, stats: Tally
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
        reason, detail, tmdb_id, doc = "oversized", oversized_detail(len(data)), None, None
    else:
        reason, detail, tmdb_id, doc = check_document(data, entity, name)
    if reason is not None and sha != prior_sha:
        _quarantine_copy(data, sha, quarantine_dir)
    return size, mtime, sha, reason, detail, tmdb_id, doc


def _oversized(
    fd: int, size: int, prior_sha: str | None, quarantine_dir: str, stats: Tally
) -> tuple[str | None, str | None, str | None, int | None, bytes | None]:
    """A file far too large for a document: checksummed and copied in blocks, never held in memory."""
    sha, partial = _hash_and_copy(fd, quarantine_dir)
    stats.bytes_read += size
    target = f"{quarantine_dir}/{sha}.bin"
    if sha == prior_sha or os.path.exists(target):
        os.unlink(partial)
    else:
        os.replace(partial, target)
    return sha, "oversized", oversized_detail(size), None, None


def _not_a_file(mode: int) -> str:
    return "a folder, not a file" if stat.S_ISDIR(mode) else "not a regular file"


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
