"""Where the data comes from: sample and Kaggle through the real kagglehub call, folders checked for layout.

Kaggle itself is never contacted: kagglesdk's TEST environment sends requests to localhost:7777, where
these tests put a closed port, a server answering 401/403/404, or a server that never answers.
"""

from __future__ import annotations

import http.server
import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import KAGGLE_TEST_PORT, pipeline_env, port_is_closed, run_tmdb, write_dataset
from tmdb_pipeline import extract
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.extract import kaggle


@pytest.fixture
def data_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    monkeypatch.setenv("TMDB_DATA_ROOT", str(root))
    monkeypatch.setenv("TMDB_SAMPLE_SIZE", "60")
    return root


@pytest.fixture
def fake_credentials(no_kaggle_credentials: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "not-a-real-key")


@pytest.fixture
def closed_kaggle_port() -> None:
    if not port_is_closed(KAGGLE_TEST_PORT):
        pytest.skip(f"something listens on port {KAGGLE_TEST_PORT}")


@contextmanager
def answering_server(status: int) -> Iterator[None]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.dumps({"code": status, "message": f"status {status}"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", KAGGLE_TEST_PORT), Handler)
    except OSError as exc:
        pytest.skip(f"port {KAGGLE_TEST_PORT} is in use: {exc}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


# ----------------------------------------------------------------------------------------------------
# sample and auto


def test_sample_is_generated_once_and_obtained_through_kagglehub(
    no_kaggle_credentials: Path, data_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tmdb_pipeline")
    dataset = extract.resolve_source("sample")
    cache = data_root / "sample" / "kagglehub-cache"
    assert dataset.kind == "sample"
    assert dataset.path == kaggle.cached_dataset_dir(cache, 1)
    assert dataset.label == "built-in synthetic sample (60 movies + 15 series, seed 42)"
    assert len(list((dataset.path / "movies/movies").iterdir())) == 60
    assert len(list((dataset.path / "series/series").iterdir())) == 15
    assert any("Generated the built-in synthetic sample" in line for line in caplog.messages)

    caplog.clear()
    again = extract.resolve_source("sample")
    assert again == dataset
    assert not any("Generated" in line for line in caplog.messages)  # reused, not generated again


def test_auto_without_credentials_says_so_and_uses_the_sample(
    no_kaggle_credentials: Path, data_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tmdb_pipeline")
    dataset = extract.resolve_source("auto")
    assert dataset.kind == "sample"
    said = caplog.messages
    assert said[0].startswith("No Kaggle credentials found: using the built-in synthetic sample")
    assert "KAGGLE_USERNAME and KAGGLE_KEY" in said[0] and "SOURCE=kaggle" in said[0]


def test_sample_size_from_the_environment_is_checked(
    no_kaggle_credentials: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMDB_SAMPLE_SIZE", "a few")
    with pytest.raises(UserError, match="TMDB_SAMPLE_SIZE"):
        extract.resolve_source("sample")


# ----------------------------------------------------------------------------------------------------
# kaggle


def test_kaggle_without_credentials_explains_what_to_set(no_kaggle_credentials: Path) -> None:
    with pytest.raises(UserError) as caught:
        extract.resolve_source("kaggle")
    message = str(caught.value)
    assert "No Kaggle credentials found" in message
    assert "KAGGLE_USERNAME and KAGGLE_KEY" in message and "SOURCE=sample" in message


def test_kaggle_uses_kagglehubs_cache_offline_when_the_dataset_is_there(
    no_kaggle_credentials: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "kagglehub-cache"  # KAGGLEHUB_CACHE, set by no_kaggle_credentials
    folder = write_dataset(kaggle.cached_dataset_dir(cache, 1), movies={"movie_1.json": {"id": 1}})
    kaggle.cache_completion_marker(cache, 1).touch()
    dataset = extract.resolve_source("kaggle")
    assert dataset.kind == "kaggle"
    assert dataset.path == folder
    assert dataset.label == "Kaggle dataset edgartanaka1/tmdb-movies-and-series version 1"


def test_network_down_is_a_clear_error_within_seconds(
    fake_credentials: None, closed_kaggle_port: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tmdb_pipeline")
    started = time.monotonic()
    with pytest.raises(UserError) as caught:
        extract.resolve_source("auto")
    assert time.monotonic() - started < 20
    assert caplog.messages[0].startswith("Kaggle credentials found (KAGGLE_USERNAME and KAGGLE_KEY)")
    message = str(caught.value)
    assert "Kaggle could not be reached" in message and "Connection refused" in message
    assert "SOURCE=sample" in message
    assert "not-a-real-key" not in message


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "Kaggle refused the credentials (HTTP 401)"),
        (403, "Kaggle refused the credentials (HTTP 403)"),
        (404, "no such dataset or version (HTTP 404)"),
        (500, "Kaggle answered HTTP 500"),
    ],
)
def test_http_failures_are_explained(fake_credentials: None, status: int, expected: str) -> None:
    with answering_server(status):
        started = time.monotonic()
        with pytest.raises(UserError, match=re.escape(expected)):
            extract.resolve_source("kaggle")
        assert time.monotonic() - started < 20


def test_a_server_that_never_answers_is_given_up_on(
    fake_credentials: None, kaggle_test_port: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The socket listens but never accepts: the request is sent and no answer ever comes. kagglehub would
    # wait forever (its API calls have no timeout); the watchdog stops it.
    monkeypatch.setenv("TMDB_KAGGLE_STALL_TIMEOUT", "1.5")
    started = time.monotonic()
    with pytest.raises(UserError, match="stopped making progress"):
        extract.resolve_source("kaggle")
    assert time.monotonic() - started < 15


def test_a_broken_kaggle_json_is_reported(no_kaggle_credentials: Path) -> None:
    (no_kaggle_credentials / ".kaggle" / "kaggle.json").write_text("{not json")
    with pytest.raises(UserError, match="credentials file is broken"):
        extract.resolve_source("auto")


def test_stall_timeout_must_be_a_positive_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMDB_KAGGLE_STALL_TIMEOUT", "soon")
    with pytest.raises(UserError, match="TMDB_KAGGLE_STALL_TIMEOUT"):
        kaggle.kagglehub_download("edgartanaka1/tmdb-movies-and-series/versions/1")


# ----------------------------------------------------------------------------------------------------
# folder


def test_a_folder_in_the_dataset_layout_is_used_as_is(tmp_path: Path) -> None:
    folder = tmp_path / "tmdb"
    (folder / "series" / "series").mkdir(parents=True)  # series only is fine
    dataset = extract.resolve_source(str(folder))
    assert dataset.kind == "folder"
    assert dataset.path == folder.resolve()
    assert str(folder.resolve()) in dataset.label


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda root: root / "missing", "does not exist"),
        (
            lambda root: (root / "file.json").write_text("{}") and root / "file.json",
            "is a file, not a folder",
        ),
        (lambda root: (root / "empty").mkdir() or root / "empty", "holds nothing"),
    ],
)
def test_a_folder_without_the_layout_is_explained(tmp_path: Path, make, expected: str) -> None:
    with pytest.raises(UserError, match=expected) as caught:
        extract.resolve_source(str(make(tmp_path)))
    assert "movies/movies/movie_<id>.json" in str(caught.value)


def test_a_folder_one_level_off_gets_a_hint(tmp_path: Path) -> None:
    real = write_dataset(tmp_path / "download" / "versions" / "1", movies={"movie_1.json": {"id": 1}})
    with pytest.raises(UserError, match=f"Did you mean {real}"):
        extract.resolve_source(str(tmp_path / "download"))
    with pytest.raises(UserError, match=f"Did you mean {real}"):
        extract.resolve_source(str(real / "movies" / "movies"))


def test_tmdb_get_prints_the_dataset_or_a_paragraph(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "tmdb", movies={"movie_1.json": {"id": 1}})
    done = run_tmdb("get", "--source", str(folder))
    assert done.returncode == 0 and str(folder) in done.stdout
    env = pipeline_env(
        HOME=str(tmp_path), KAGGLE_CONFIG_DIR=str(tmp_path), KAGGLEHUB_CACHE=str(tmp_path / "c")
    )
    failed = run_tmdb("get", "--source", "kaggle", env=env)
    assert failed.returncode == 2
    assert "No Kaggle credentials found" in failed.stderr and "Traceback" not in failed.stderr


def test_a_full_disk_while_generating_the_sample_is_a_clear_error(tmp_path: Path) -> None:
    # A file-size limit makes writing the sample fail the way a full disk does (EFBIG instead of ENOSPC).
    limited = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))\n"
        "from tmdb_pipeline.cli import main\n"
        "sys.exit(main(['get', '--source', 'sample']))\n"
    )
    env = pipeline_env(TMDB_DATA_ROOT=str(tmp_path / "data"), TMDB_SAMPLE_SIZE="50", HOME=str(tmp_path))
    command = [sys.executable, "-c", limited]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert "Could not write the sample" in done.stderr and "Free some disk space" in done.stderr
    assert "Traceback" not in done.stderr
    cache = tmp_path / "data" / "sample" / "kagglehub-cache"
    assert not kaggle.cache_completion_marker(
        cache, 1
    ).exists()  # kagglehub will not take a half-written sample
