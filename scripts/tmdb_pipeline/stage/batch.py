"""Staging one batch: every new or changed file of a dataset folder into a new batch of the landing zone.

`<landing>/batch=<id>/` holds `movies-<n>.ndjson` and `series-<n>.ndjson` (one line per staged file: its path,
checksum and original document, unchanged), `manifest.ndjson` (one line per file found new or changed:
staged, or quarantined with a reason), `summary.json` (the run's counts) and `quarantine/` (a copy of each
quarantined file, named by checksum). A batch is built in `<landing>/.tmp/` and renamed into place when
complete, so readers see all of it or none of it; staging the same input twice writes no second batch.
One staging run per landing zone at a time (a lock in the landing zone).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from tmdb_pipeline import ENTITIES, locks
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.extract import check_dataset_folder
from tmdb_pipeline.landing_zone import existing_batches, next_batch_id
from tmdb_pipeline.stage import manifests
from tmdb_pipeline.stage.counts import StageResult
from tmdb_pipeline.stage.scan import list_changed
from tmdb_pipeline.stage.write import Work, check_contract, process

LOCK_NAME = ".stage.lock"
TMP_NAME = ".tmp"
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)

log = logging.getLogger(__name__)


def stage(
    dataset_dir: Path,
    landing_dir: Path,
    *,
    source_label: str,
    workers: int = 2,
    progress: bool | None = None,
) -> StageResult:
    """Stage every new or changed file of `dataset_dir` into a new batch of `landing_dir`."""
    started = time.perf_counter()
    started_at = _utc_now()
    dataset_dir, landing_dir = Path(dataset_dir), Path(landing_dir)
    check_dataset_folder(dataset_dir)
    check_contract()
    _make_landing(landing_dir)
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(
                locks.exclusive(
                    landing_dir / LOCK_NAME,
                    what=f"The landing zone {landing_dir}",
                    advice="Another staging run is writing to it: wait for it to finish, then run again.",
                )
            )
        except OSError as exc:
            raise _write_error(exc, landing_dir) from exc
        tmp_root = landing_dir / TMP_NAME
        if tmp_root.is_symlink():  # never build a batch through a link to somewhere else
            tmp_root.unlink()
        shutil.rmtree(tmp_root, ignore_errors=True)  # leftovers of a killed run; we hold the lock
        for stale in landing_dir.glob(f"{manifests.VERIFIED_NAME}.*"):
            stale.unlink()
        batches = existing_batches(landing_dir)
        prior = manifests.latest_entries(landing_dir, batches)
        verified = manifests.load_verified(landing_dir, prior)
        timings = {"manifests_s": time.perf_counter() - started}
        items, stats = list_changed(dataset_dir, prior)
        if not sum(stats.seen.values()):
            raise UserError(
                f"The dataset folder {dataset_dir} has no files in movies/movies or series/series: "
                "nothing to stage. Check that the download or copy finished."
            )
        timings["scan_s"] = time.perf_counter() - started - timings["manifests_s"]
        batch_id = next_batch_id(batches)
        tmp_batch = tmp_root / f"batch={batch_id}"
        try:
            _make_dirs(tmp_batch / "quarantine")
            before = time.perf_counter()
            work = Work(str(dataset_dir), str(tmp_batch), started_at, items, prior)
            stats.merge(process(work, workers, progress))
            timings["read_and_write_s"] = time.perf_counter() - before
            if stats.verified:
                manifests.save_verified(landing_dir, verified, stats.verified)
            if not stats.new_files():
                shutil.rmtree(tmp_root, ignore_errors=True)
                result = stats.result(None, landing_dir, time.perf_counter() - started)
                log.info(_describe_noop(result, source_label, batches[-1] if batches else None))
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
    log.info(_describe(result, source_label))
    return result


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
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


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
