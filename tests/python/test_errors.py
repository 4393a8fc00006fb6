"""A write the filesystem refuses (a full disk, a read-only folder) ends a command with one paragraph saying
what to do, however it surfaced: the fault campaign found runs under such faults ending in tracebacks."""

from __future__ import annotations

import errno
from typing import Any

import duckdb
import pytest

from tmdb_pipeline import cli, pipeline
from tmdb_pipeline.errors import storage_failure


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "landing/x.ndjson"), "the disk is full"),
        (OSError(errno.EROFS, "Read-only file system", "data/.pipeline.lock"), "the filesystem is read-only"),
        (duckdb.IOException('The file "tmdb.duckdb" exists, but it is not a valid DuckDB database file!'),
         "the warehouse file is damaged"),
        (RuntimeError("(sqlite3.OperationalError) database or disk is full"), "the disk is full"),
    ],
)  # fmt: skip
def test_a_refused_write_is_said_with_what_to_do(error: BaseException, said: str) -> None:
    message = storage_failure(error)
    assert message is not None and message.startswith(said)
    assert "run again" in message


def test_other_errors_are_not_taken_for_a_refused_write() -> None:
    assert storage_failure(OSError(errno.ENOENT, "No such file or directory", "x")) is None
    assert storage_failure(ValueError("no space here")) is None


def test_the_cli_ends_a_refused_write_in_one_paragraph_and_lets_a_bug_through(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def read_only(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EROFS, "Read-only file system", "/data/.pipeline.lock")

    monkeypatch.setattr(pipeline, "run", read_only)
    assert cli.main(["run", "--source", "sample"]) == 1
    err = capsys.readouterr().err
    assert (
        "ERROR: the filesystem is read-only: [Errno 30] Read-only file system: '/data/.pipeline.lock'" in err
    )
    assert "Traceback" not in err

    def bug(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOENT, "No such file or directory", "a path the code got wrong")

    monkeypatch.setattr(pipeline, "run", bug)
    with pytest.raises(FileNotFoundError):
        cli.main(["run", "--source", "sample"])
