"""`make docs`: the dbt docs site is generated for the warehouse and served on localhost.

The warehouse is built from the built-in sample by the pipeline itself, in a temporary data folder (the
project's own data/ and target/ are left alone).
"""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tmdb_pipeline import cli
from tmdb_pipeline.project import project
from tmdb_pipeline.warehouse import docs_site

REPO_ROOT = project().root
TMDB = [sys.executable, "-m", "tmdb_pipeline"]
SERVER_START_TIMEOUT_S = 600


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TMDB_", "DBT_TARGET"))}
    env.update(
        TMDB_DATA_ROOT=str(tmp / "data"),
        DBT_TARGET_PATH=str(tmp / "target"),
        DBT_LOG_PATH=str(tmp / "logs"),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(temporary root, data folder) of a warehouse built from the built-in sample by `tmdb run`."""
    tmp = tmp_path_factory.mktemp("docs")
    done = subprocess.run(
        [*TMDB, "run", "--source", "sample"],
        cwd=REPO_ROOT,
        env=_env(tmp),
        capture_output=True,
        text=True,
        check=False,
    )
    data_dir = tmp / "data" / "sample"
    if done.returncode != 0 or not (data_dir / "tmdb.duckdb").is_file():
        pytest.fail(
            f"building the sample warehouse for the docs failed (exit {done.returncode}):\n"
            + "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        )
    return tmp, data_dir


@pytest.fixture
def docs_server(sample_warehouse: tuple[Path, Path]) -> Iterator[tuple[str, Path, Callable[[], int]]]:
    """`tmdb docs --port 0`, running: yields (base URL, docs folder, stop); stop() ends it."""
    tmp, data_dir = sample_warehouse
    docs_dir = tmp / "docs-site"
    process = subprocess.Popen(
        [*TMDB, "docs", "--port", "0", "--docs-dir", str(docs_dir)],
        cwd=REPO_ROOT,
        env=_env(tmp, TMDB_DATA_DIR=str(data_dir)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()

    def stop() -> int:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        return process.wait()

    url = ""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    try:
        while not url:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                if process.poll() is not None:
                    pytest.fail(f"the docs command exited ({process.returncode}):\n" + "".join(output[-40:]))
                if time.monotonic() > deadline:
                    pytest.fail("the docs server printed no URL in time:\n" + "".join(output[-40:]))
                continue
            output.append(line)
            if line.startswith("dbt docs: serving"):
                url = line.split(" at ", 1)[1].split()[0]
        yield url, docs_dir, stop
    finally:
        stop()


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return response.read()


@pytest.mark.slow
def test_docs_site_is_served_on_localhost_with_a_catalog_of_every_model(
    docs_server: tuple[str, Path, Callable[[], int]],
) -> None:
    url, docs_dir, stop = docs_server
    assert url.startswith("http://127.0.0.1:")
    assert b"<html" in _get(url + "index.html").lower()
    manifest = json.loads(_get(url + "manifest.json"))
    catalog = json.loads(_get(url + "catalog.json"))
    models = {
        unique_id
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
        and node["package_name"] == "tmdb"
        and node["config"]["materialized"] != "ephemeral"
    }
    assert models, "the manifest lists no models"
    missing = sorted(models - set(catalog["nodes"]))
    assert not missing, f"models in the manifest but not in the catalog: {missing}"
    # Every model's columns made it into the catalog, not just its name.
    assert all(catalog["nodes"][unique_id]["columns"] for unique_id in models)
    assert (docs_dir / "catalog.json").is_file()
    # Stopped, the server lets go of its port.
    stop()
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


@pytest.mark.slow
def test_a_site_from_the_build_just_run_has_its_manifest_and_compiles_nothing(
    sample_warehouse: tuple[Path, Path],
) -> None:
    """`tmdb docs --from-build` (the Airflow DAG's docs task): the build's manifest, with the SQL it ran,
    and a catalog of every model; dbt starts from the build's parse and compiles nothing again."""
    tmp, data_dir = sample_warehouse
    build_dir, docs_dir = tmp / "target", tmp / "site-from-build"
    done = subprocess.run(
        [*TMDB, "docs", "--no-serve", "--docs-dir", str(docs_dir), "--from-build", str(build_dir)],
        cwd=REPO_ROOT,
        # the build's target named as `tmdb run` names it (--target duckdb): dbt reuses a parse only for the
        # same profile and target
        env=_env(tmp, TMDB_DATA_DIR=str(data_dir), DBT_TARGET="duckdb"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert (docs_dir / "manifest.json").read_bytes() == (build_dir / "manifest.json").read_bytes()
    manifest = json.loads((docs_dir / "manifest.json").read_text())
    catalog = json.loads((docs_dir / "catalog.json").read_text())
    models = [node for node in manifest["nodes"].values() if node["resource_type"] == "model"]
    assert models and all(node["compiled_code"] for node in models)
    assert not sorted({node["unique_id"] for node in models} - set(catalog["nodes"]))
    assert (docs_dir / "index.html").is_file()
    assert not (docs_dir / "compiled").exists(), "dbt compiled the project again"
    assert "Unable to do partial parsing" not in done.stdout, done.stdout[-3000:]


def test_from_a_folder_that_no_build_wrote_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "tmdb.duckdb").touch()
    monkeypatch.setenv("TMDB_DATA_DIR", str(data_dir))
    monkeypatch.delenv("TMDB_DUCKDB_PATH", raising=False)
    code = cli.main(
        ["docs", "--no-serve", "--docs-dir", str(tmp_path / "site"), "--from-build", str(tmp_path / "empty")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "has no manifest.json" in err
    assert "--from-build" in err


def _site(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in docs_site.SITE_FILES:
        (folder / name).write_text("{}" if name.endswith(".json") else "<html></html>", encoding="utf-8")
    return folder


def test_port_in_use_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = cli.main(
            ["docs", "--no-generate", "--docs-dir", str(_site(tmp_path / "site")), "--port", str(port)]
        )
    assert code == 2
    err = capsys.readouterr().err
    assert f"Cannot serve the docs on 127.0.0.1:{port}" in err
    assert "DOCS_PORT" in err


def test_serving_without_a_generated_site_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["docs", "--no-generate", "--docs-dir", str(tmp_path / "empty"), "--port", "0"])
    assert code == 2
    assert "catalog.json" in capsys.readouterr().err


def test_server_serves_the_folder_on_the_requested_host_and_a_free_port(tmp_path: Path) -> None:
    site = _site(tmp_path / "site")
    server = docs_site.server(site, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        assert port > 0
        assert _get(f"http://127.0.0.1:{port}/catalog.json") == b"{}"
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
