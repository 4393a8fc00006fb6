"""Kaggle through kagglehub: whether credentials are there, the download, and every failure explained.

kagglehub sends its API requests with no timeout, so `dataset_download` runs in a child process watched by
this one: when the child has done no I/O for TMDB_KAGGLE_STALL_TIMEOUT seconds (default 60) it is stopped
and the run fails with a message saying what to do. Every failure (no or bad credentials, no network, an
HTTP error, a full disk, a corrupted archive) becomes a `UserError` before anything is staged.
"""

from __future__ import annotations

import errno
import os
import re
import time
from pathlib import Path
from typing import Any

from tmdb_pipeline import KAGGLE_HANDLE, KAGGLE_VERSION
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.processes import mp_context

VERSIONED_HANDLE = f"{KAGGLE_HANDLE}/versions/{KAGGLE_VERSION}"
DATASET_URL = f"https://www.kaggle.com/datasets/{KAGGLE_HANDLE}"
CREDENTIALS_HELP = (
    "Set KAGGLE_USERNAME and KAGGLE_KEY (or KAGGLE_API_TOKEN, or put kaggle.json in ~/.kaggle/) with an API "
    "token from https://www.kaggle.com/settings"
)


def kaggle_credentials_source() -> str | None:
    """Where kagglehub would find credentials (a short description), or None if it would find none."""
    from kagglehub.config import get_kaggle_credentials

    try:
        credentials = get_kaggle_credentials()
    except ValueError as exc:  # a kaggle.json that is not JSON or lacks a key
        raise UserError(
            f"The Kaggle credentials file is broken: {exc}. Fix or delete it. {CREDENTIALS_HELP}."
        ) from exc
    if credentials is None:
        return None
    if credentials.api_key:
        return "an API token"
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "KAGGLE_USERNAME and KAGGLE_KEY"
    return "kaggle.json"


def cached_dataset_dir(cache_dir: Path, version: int = KAGGLE_VERSION) -> Path:
    """Where kagglehub keeps a dataset version: <cache>/datasets/<owner>/<dataset>/versions/<v>."""
    return Path(cache_dir, "datasets", *KAGGLE_HANDLE.split("/"), "versions", str(version))


def cache_completion_marker(cache_dir: Path, version: int = KAGGLE_VERSION) -> Path:
    """The file kagglehub checks before using its cache: <cache>/datasets/<owner>/<dataset>/<v>.complete."""
    return Path(cache_dir, "datasets", *KAGGLE_HANDLE.split("/"), f"{version}.complete")


def in_kagglehub_cache(handle: str = VERSIONED_HANDLE) -> bool:
    """Whether kagglehub has this dataset version whole in its cache (KAGGLEHUB_CACHE): no network needed."""
    try:
        from kagglehub.cache import Cache
        from kagglehub.handle import parse_dataset_handle

        return Cache().load_from_cache(parse_dataset_handle(handle)) is not None
    except Exception:  # noqa: BLE001 - an internal API of kagglehub: if it moved, assume not cached
        return False


def _stall_timeout() -> float:
    raw = os.environ.get("TMDB_KAGGLE_STALL_TIMEOUT", "60")
    try:
        value = float(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise UserError(f"TMDB_KAGGLE_STALL_TIMEOUT={raw!r} is not a positive number of seconds.")
    return value


def kagglehub_download(
    handle: str, *, cache_dir: Path | None = None, stall_timeout: float | None = None
) -> Path:
    """Run `kagglehub.dataset_download(handle)` in a child process and return the folder it gives.

    `cache_dir` sets KAGGLEHUB_CACHE for that call only. The child is stopped when it has done no I/O
    (network or disk) for `stall_timeout` seconds; every failure becomes a UserError saying what to do.
    """
    timeout = _stall_timeout() if stall_timeout is None else stall_timeout
    ctx = mp_context()
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(
        target=_download_child,
        args=(handle, str(cache_dir) if cache_dir else None, sender),
        name="kagglehub-download",
        daemon=True,
    )
    child.start()
    sender.close()
    try:
        result = _watch(child, receiver, timeout)
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)
        receiver.close()
    kind, value = result
    if kind == "ok":
        return Path(value)
    raise UserError(_explain_failure(value, handle))


def _watch(child: Any, receiver: Any, timeout: float) -> tuple[str, Any]:
    last_io, last_change = _io_count(child.pid), time.monotonic()
    while True:
        if receiver.poll(0.2):
            try:
                return receiver.recv()
            except EOFError:
                pass  # the child died before answering: reported below
        if not child.is_alive() and not receiver.poll(0):
            return "error", {
                "kind": "crashed",
                "message": f"the download process ended with exit code {child.exitcode}",
            }
        io = _io_count(child.pid)
        now = time.monotonic()
        if io != last_io:
            last_io, last_change = io, now
        elif now - last_change > timeout:
            child.kill()
            return "error", {"kind": "stalled", "message": f"no network or disk activity for {timeout:.0f} s"}


def _io_count(pid: int) -> tuple[int, ...] | float:
    """Bytes the process has read and written so far (any I/O, sockets included); without /proc, the clock."""
    try:
        with open(f"/proc/{pid}/io", "rb") as f:
            fields = dict(line.split(b":") for line in f.read().splitlines())
        return int(fields[b"rchar"]), int(fields[b"wchar"])
    except (OSError, KeyError, ValueError):
        return time.monotonic()  # always "changing": the stall timeout cannot apply


def _download_child(handle: str, cache_dir: str | None, sender: Any) -> None:
    """In the child: call kagglehub, send back ("ok", path) or ("error", {kind, status, message})."""
    if cache_dir:
        os.environ["KAGGLEHUB_CACHE"] = cache_dir
    os.environ.setdefault("KAGGLEHUB_VERBOSITY", "warning")
    try:
        import kagglehub

        sender.send(("ok", kagglehub.dataset_download(handle)))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent, which explains it
        sender.send(("error", _classify(exc)))
    finally:
        sender.close()


def _classify(exc: BaseException) -> dict[str, Any]:
    import requests
    from kagglehub.exceptions import DataCorruptionError, UnauthenticatedError

    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    info: dict[str, Any] = {"kind": "other", "message": f"{type(exc).__name__}: {message}", "status": None}
    if isinstance(exc, UnauthenticatedError):
        info["kind"] = "unauthenticated"
    elif isinstance(exc, requests.HTTPError):
        info["kind"] = "http"
        info["status"] = exc.response.status_code if exc.response is not None else None
    elif isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        info["kind"] = "network"
        reason = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
        info["message"] = reason.group(1).strip() if reason else info["message"][:200]
    elif isinstance(exc, DataCorruptionError):
        info["kind"] = "corrupt"
    elif isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        info["kind"] = "disk_full"
        info["message"] = f"{exc.strerror} ({exc.filename})" if exc.filename else str(exc.strerror)
    elif isinstance(exc, ValueError) and "credentials" in message.lower():
        info["kind"] = "bad_credentials_file"
    return info


def _explain_failure(info: dict[str, Any], handle: str) -> str:
    kind, status, detail = info.get("kind"), info.get("status"), info.get("message", "")
    what = f"Downloading the Kaggle dataset {handle} failed"
    if kind == "unauthenticated":
        return f"{what}: Kaggle says you are not signed in. {CREDENTIALS_HELP}."
    if kind == "http" and status in (401, 403):
        return (
            f"{what}: Kaggle refused the credentials (HTTP {status}). Check that KAGGLE_USERNAME/KAGGLE_KEY "
            "(or the token in KAGGLE_API_TOKEN or ~/.kaggle/kaggle.json) are current: create a new API "
            f"token at https://www.kaggle.com/settings. If they are, open {DATASET_URL} once while signed in "
            "and accept any terms it shows."
        )
    if kind == "http" and status == 404:
        return (
            f"{what}: Kaggle has no such dataset or version (HTTP 404). The pipeline pins {handle}; "
            f"check {DATASET_URL} still offers version {KAGGLE_VERSION}."
        )
    if kind == "http" and status == 429:
        return f"{what}: Kaggle is rate-limiting this account (HTTP 429). Wait a few minutes and run again."
    if kind == "http":
        return (
            f"{what}: Kaggle answered HTTP {status} ({detail}). This is usually temporary: run again later."
        )
    if kind == "network":
        return (
            f"{what}: Kaggle could not be reached ({detail}). Check the network connection (and any "
            f"HTTPS_PROXY setting), or run with SOURCE=sample to use the built-in sample offline."
        )
    if kind == "stalled":
        return (
            f"{what}: the download stopped making progress ({detail}), so it was stopped rather than left "
            f"hanging. Check the network connection and run again (finished parts are kept in kagglehub's "
            f"cache); TMDB_KAGGLE_STALL_TIMEOUT sets how long to wait. SOURCE=sample works offline."
        )
    if kind == "disk_full":
        return (
            f"{what}: the disk is full ({detail}). The dataset needs about 2.5 GB in kagglehub's cache "
            f"(KAGGLEHUB_CACHE, default ~/.cache/kagglehub) and as much again for staging. Free some space "
            f"and run again."
        )
    if kind == "corrupt":
        return f"{what}: the downloaded archive was corrupted ({detail}). Run again to download it afresh."
    if kind == "bad_credentials_file":
        return f"{what}: {detail}. Fix or delete that file. {CREDENTIALS_HELP}."
    return f"{what}: {detail}. Run again; if it keeps failing, run with SOURCE=sample to work offline."
