"""Where the data comes from: the Kaggle dataset, the built-in sample, or a folder in the dataset's layout.

Every source ends as a `Dataset`: a folder holding `movies/movies/*.json` and/or `series/series/*.json`.
Both the Kaggle dataset and the sample are obtained through the real `kagglehub.dataset_download` call:
the sample is generated into a kagglehub cache of its own, so every offline run exercises the same code
path as a Kaggle run.

kagglehub sends its API requests with no timeout, so the call runs in a child process watched by this
one: when the child has done no I/O for TMDB_KAGGLE_STALL_TIMEOUT seconds (default 60) it is stopped and
the run fails with a message saying what to do. Nothing is staged until extraction has succeeded.

    python -m tmdb_pipeline.extract [auto|sample|kaggle|FOLDER]
"""

from __future__ import annotations

import contextlib
import errno
import multiprocessing
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tmdb_pipeline import KAGGLE_HANDLE, KAGGLE_VERSION, paths
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.sample import DEFAULT_MOVIES, SampleSpec, ensure_in_kagglehub_cache, parse_size

KAGGLE_VERSIONED_HANDLE = f"{KAGGLE_HANDLE}/versions/{KAGGLE_VERSION}"
DATASET_URL = f"https://www.kaggle.com/datasets/{KAGGLE_HANDLE}"
SUBFOLDERS = {"movies": Path("movies", "movies"), "series": Path("series", "series")}
_CREDENTIALS_HELP = (
    "Set KAGGLE_USERNAME and KAGGLE_KEY (or KAGGLE_API_TOKEN, or put kaggle.json in ~/.kaggle/) with an API "
    "token from https://www.kaggle.com/settings"
)


@dataclass(frozen=True)
class Dataset:
    kind: str  # "sample" | "kaggle" | "folder"
    path: Path  # a folder in the dataset's own layout (movies/movies/*.json, series/series/*.json)
    label: str  # one line for summaries


def resolve_source(source: str = "auto", *, announce: Callable[[str], None] = print) -> Dataset:
    """Turn SOURCE (`auto`, `sample`, `kaggle` or a folder) into a dataset folder, downloading if needed."""
    source = (source or "auto").strip()
    if source == "auto":
        where = kaggle_credentials_source()
        if where is None:
            announce(
                "No Kaggle credentials found: using the built-in sample. "
                f"{_CREDENTIALS_HELP}, or pass SOURCE=kaggle, to use the real dataset."
            )
            return _sample_dataset(announce)
        announce(
            f"Kaggle credentials found ({where}): using the Kaggle dataset. "
            "Pass SOURCE=sample to work offline."
        )
        return _kaggle_dataset(announce)
    if source == "sample":
        return _sample_dataset(announce)
    if source == "kaggle":
        return _kaggle_dataset(announce)
    folder = Path(source).expanduser()
    check_dataset_folder(folder)
    return Dataset("folder", folder.resolve(), f"folder {folder.resolve()}")


# ----------------------------------------------------------------------------------------------------
# Folder


def check_dataset_folder(folder: Path) -> None:
    """A dataset folder must hold movies/movies and/or series/series; say what was found otherwise."""
    if not folder.exists():
        raise UserError(f"The dataset folder {folder} does not exist. {_layout_help()}")
    if not folder.is_dir():
        raise UserError(f"{folder} is a file, not a folder. {_layout_help()}")
    if any((folder / sub).is_dir() for sub in SUBFOLDERS.values()):
        return
    hint = ""
    for candidate in _nearby_datasets(folder):
        hint = f" Did you mean {candidate}?"
        break
    try:
        found = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    except OSError as exc:
        raise UserError(f"The dataset folder {folder} cannot be read: {exc.strerror}.") from exc
    listing = ", ".join(found[:8]) + (", ..." if len(found) > 8 else "") if found else "nothing"
    raise UserError(
        f"{folder} is not a dataset folder: it has neither movies/movies nor series/series "
        f"(it holds {listing}).{hint} {_layout_help()}"
    )


def _layout_help() -> str:
    return (
        "Expected the Kaggle dataset's layout: FOLDER/movies/movies/movie_<id>.json and/or "
        "FOLDER/series/series/series_<id>.json, one TMDB object per file."
    )


def _nearby_datasets(folder: Path) -> Iterator[Path]:
    """Dataset folders just above or a few levels below the one given (a common slip: one level off)."""
    for up in (folder.parent, folder.parent.parent):
        if any((up / sub).is_dir() for sub in SUBFOLDERS.values()):
            yield up
    queue, visited = [(folder, 0)], 0
    while queue and visited < 200:
        current, depth = queue.pop(0)
        visited += 1
        if depth and any((current / sub).is_dir() for sub in SUBFOLDERS.values()):
            yield current
            continue
        if depth < 6:
            with contextlib.suppress(OSError):
                queue += [
                    (p, depth + 1) for p in sorted(current.iterdir()) if p.is_dir() and not p.is_symlink()
                ]


# ----------------------------------------------------------------------------------------------------
# Sample


def sample_spec_from_env() -> SampleSpec:
    size = os.environ.get("TMDB_SAMPLE_SIZE", "").strip() or str(DEFAULT_MOVIES)
    try:
        movies, series = parse_size(size)
    except UserError as exc:
        raise UserError(f"TMDB_SAMPLE_SIZE: {exc}") from exc
    return SampleSpec(movies=movies, series=series)


def sample_cache_dir() -> Path:
    return paths.DATA_ROOT / "sample" / "kagglehub-cache"


def _sample_dataset(announce: Callable[[str], None]) -> Dataset:
    spec = sample_spec_from_env()
    cache = sample_cache_dir()
    started = time.perf_counter()
    expected, fresh = ensure_in_kagglehub_cache(cache, spec)
    if fresh:
        announce(f"Generated the {spec.label()} in {time.perf_counter() - started:.1f} s.")
    path = kagglehub_download(KAGGLE_VERSIONED_HANDLE, cache_dir=cache)
    if path.resolve() != expected.resolve():
        raise UserError(
            f"kagglehub returned {path} for the built-in sample, expected {expected}. "
            f"Delete {cache} and run again."
        )
    check_dataset_folder(path)
    return Dataset("sample", path, spec.label())


# ----------------------------------------------------------------------------------------------------
# Kaggle


def kaggle_credentials_source() -> str | None:
    """Where kagglehub would find credentials (a short description), or None if it would find none."""
    try:
        from kagglehub.config import get_kaggle_credentials
    except ImportError as exc:
        raise UserError(
            "kagglehub is not installed: run `make setup` (pip install -r requirements.txt)."
        ) from exc
    try:
        credentials = get_kaggle_credentials()
    except ValueError as exc:  # a kaggle.json that is not JSON or lacks a key
        raise UserError(
            f"The Kaggle credentials file is broken: {exc}. Fix or delete it. {_CREDENTIALS_HELP}."
        ) from exc
    if credentials is None:
        return None
    if credentials.api_key:
        return "an API token"
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "KAGGLE_USERNAME and KAGGLE_KEY"
    return "kaggle.json"


def _kaggle_dataset(announce: Callable[[str], None]) -> Dataset:
    label = f"Kaggle dataset {KAGGLE_HANDLE} version {KAGGLE_VERSION}"
    if kaggle_credentials_source() is None and not _in_kagglehub_cache(KAGGLE_VERSIONED_HANDLE):
        raise UserError(
            f"No Kaggle credentials found, so the dataset {KAGGLE_HANDLE} cannot be downloaded. "
            f"{_CREDENTIALS_HELP}. Or run with SOURCE=sample to use the built-in sample offline."
        )
    if not _in_kagglehub_cache(KAGGLE_VERSIONED_HANDLE):
        _warn_if_short_of_space(announce)
    announce(
        f"Getting the {label} through kagglehub (a first download is about 2.5 GB; later runs use its cache)."
    )
    path = kagglehub_download(KAGGLE_VERSIONED_HANDLE)
    try:
        check_dataset_folder(path)
    except UserError as exc:
        raise UserError(
            f"kagglehub returned {path}, which does not look like the TMDB dataset: {exc}"
        ) from exc
    return Dataset("kaggle", path, label)


NEEDED_FREE_BYTES = 4 * 1024**3  # the archive, then the 620k files it holds (about 2.5 GB on disk)


def _warn_if_short_of_space(announce: Callable[[str], None]) -> None:
    from kagglehub.config import get_cache_folder

    folder = Path(get_cache_folder())
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free < NEEDED_FREE_BYTES:
        announce(
            f"Warning: only {free / 1024**3:.1f} GB free for kagglehub's cache ({get_cache_folder()}); "
            f"the download needs about {NEEDED_FREE_BYTES / 1024**3:.0f} GB. Set KAGGLEHUB_CACHE to a "
            "roomier disk if it fails."
        )


def _in_kagglehub_cache(handle: str) -> bool:
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
    ctx = _mp_context()
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


def _mp_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else methods[0])


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
        return f"{what}: Kaggle says you are not signed in. {_CREDENTIALS_HELP}."
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
        return f"{what}: {detail}. Fix or delete that file. {_CREDENTIALS_HELP}."
    return f"{what}: {detail}. Run again; if it keeps failing, run with SOURCE=sample to work offline."


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0] in ("-h", "--help")):
        print(__doc__)
        return 0 if args and args[0] in ("-h", "--help") else 2
    try:
        dataset = resolve_source(args[0] if args else "auto")
    except UserError as exc:
        print(exc, file=sys.stderr)
        return exc.exit_code
    print(f"{dataset.label}: {dataset.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
