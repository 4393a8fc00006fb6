"""Errors that are the user's to fix: printed as a short paragraph, never as a traceback."""

from __future__ import annotations

import errno


class UserError(Exception):
    """Something the user can act on. The message says what happened and what to do."""

    exit_code = 2


class LockedError(UserError):
    """Another run holds a lock this run needs."""

    exit_code = 3


# A filesystem that refuses writes is the machine's state, not a bug: said in a line, with what to do.
STORAGE_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the filesystem is read-only",
}
STORAGE_PHRASES = {
    "no space left on device": "the disk is full",
    "read-only file system": "the filesystem is read-only",
    "database or disk is full": "the disk is full",
    "attempt to write a readonly database": "the filesystem is read-only",
    "not a valid duckdb database file": "the warehouse file is damaged (a write cut short by a full disk?)",
}


def storage_failure(error: BaseException) -> str | None:
    """The paragraph for a write the filesystem refused (an OSError, or DuckDB's or SQLite's report of
    one), or None for any other error."""
    text = str(error)
    why = STORAGE_ERRNOS.get(error.errno) if isinstance(error, OSError) else None
    why = why or next((said for phrase, said in STORAGE_PHRASES.items() if phrase in text.lower()), None)
    if why is None:
        return None
    return (
        f"{why}: {text.splitlines()[0] if text else type(error).__name__}. Nothing half-written is visible"
        " and the published set stands: free space or make the data folder writable, then run again; the next"
        " run repairs what this one left."
    )
