"""Shared fixtures: dataset folders written as real files in tmp dirs, the real sample, subprocess helpers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
# kagglesdk's TEST environment sends every API call to http://localhost:7777 (it has no endpoint variable).
KAGGLE_TEST_PORT = 7777

DatasetFiles = dict[str, "bytes | dict[str, Any]"]


@pytest.fixture(scope="session")
def real_sample_dir() -> Path:
    """The real TMDB files in shared/ (outside the repo); tests using them skip when they are absent."""
    default = REPO_ROOT.parent / "shared" / "data" / "tmdb-real-sample" / "versions" / "1"
    path = Path(os.environ.get("TMDB_REAL_SAMPLE", default))
    if not (path / "movies" / "movies").is_dir():
        pytest.skip(f"the real TMDB sample is not at {path} (set TMDB_REAL_SAMPLE)")
    return path


def write_dataset(root: Path, movies: DatasetFiles | None = None, series: DatasetFiles | None = None) -> Path:
    """Write files into root/movies/movies and root/series/series; dict values are written as compact JSON."""
    for sub, files in (("movies/movies", movies), ("series/series", series)):
        folder = root / sub
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in (files or {}).items():
            data = content if isinstance(content, bytes) else orjson.dumps(content)
            (folder / name).write_bytes(data)
    return root


@pytest.fixture(scope="session")
def generated_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 movies + 500 series from the sample generator, shared read-only by the tests that need volume."""
    from tmdb_pipeline.extract import sample

    folder = tmp_path_factory.mktemp("generated") / "dataset"
    sample.generate(folder, sample.SampleSpec(movies=2000, series=500), workers=2)
    return folder


@pytest.fixture
def make_dataset(tmp_path: Path) -> Callable[..., Path]:
    def make(
        movies: DatasetFiles | None = None, series: DatasetFiles | None = None, name: str = "dataset"
    ) -> Path:
        return write_dataset(tmp_path / name, movies, series)

    return make


def movie(tmdb_id: int, **fields: Any) -> dict[str, Any]:
    """A small but real-shaped movie document."""
    doc: dict[str, Any] = {
        "adult": False,
        "budget": 0,
        "genres": [{"id": 18, "name": "Drama"}],
        "id": tmdb_id,
        "imdb_id": f"tt{tmdb_id:07d}",
        "original_title": f"Film {tmdb_id}",
        "popularity": 1.5,
        "release_date": "1999-01-02",
        "runtime": 90,
        "title": f"Film {tmdb_id}",
        "vote_average": 6.5,
        "vote_count": 10,
    }
    doc.update(fields)
    return doc


def series(tmdb_id: int, **fields: Any) -> dict[str, Any]:
    """A small but real-shaped series document."""
    doc: dict[str, Any] = {
        "first_air_date": "2010-05-01",
        "genres": [],
        "id": tmdb_id,
        "in_production": False,
        "last_air_date": "2012-06-01",
        "name": f"Show {tmdb_id}",
        "number_of_episodes": 20,
        "number_of_seasons": 2,
        "original_name": f"Show {tmdb_id}",
        "seasons": [],
        "status": "Ended",
        "type": "Scripted",
    }
    doc.update(fields)
    return doc


def pipeline_env(**extra: str) -> dict[str, str]:
    """The environment for running `tmdb` in a subprocess: no Kaggle credentials, no TMDB_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAGGLE", "TMDB_"))}
    env.update(extra)
    return env


def run_tmdb(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """`tmdb ARGS` (the installed command, run by this interpreter) to the end."""
    return subprocess.run(
        [sys.executable, "-m", "tmdb_pipeline", *args],
        env=env or pipeline_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


@pytest.fixture
def no_kaggle_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No Kaggle credentials anywhere kagglehub looks, and a kagglehub cache of our own."""
    for name in list(os.environ):
        if name.startswith("KAGGLE"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    (home / ".kaggle").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(home / ".kaggle"))
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub-cache"))
    # Any request that does go out goes to localhost:7777, never to kaggle.com.
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")
    return home


def port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def kaggle_test_port() -> Iterator[socket.socket]:
    """A listening socket on 127.0.0.1:7777 (where kagglesdk's TEST environment sends requests)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", KAGGLE_TEST_PORT))
    except OSError as exc:
        sock.close()
        pytest.skip(f"port {KAGGLE_TEST_PORT} is in use: {exc}")
    sock.listen(8)
    try:
        yield sock
    finally:
        sock.close()


def batch_lines(landing: Path, batch: str, pattern: str) -> list[dict[str, Any]]:
    return [
        orjson.loads(line)
        for path in sorted((landing / f"batch={batch}").glob(pattern))
        for line in path.read_bytes().splitlines()
    ]


def external_locations() -> dict[str, str]:
    """Each landing source's read_json call as dbt renders it: models/raw/_tmdb__sources.yml with its var()
    calls filled in from dbt_project.yml (`$tmdb_landing_dir` and `$name` are dbt-duckdb's to fill)."""
    import jinja2

    project = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())
    sources = yaml.safe_load((REPO_ROOT / "models/raw/_tmdb__sources.yml").read_text())["sources"][0]
    variables = project.get("vars", {})
    render = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string
    return {
        table["name"]: render(table["config"]["meta"]["external_location"]).render(var=variables.__getitem__)
        for table in sources["tables"]
    }


def read_landing_like_dbt(
    landing: Path, tables: tuple[str, ...] = ("movies", "series", "manifest")
) -> dict[str, int]:
    """Read the landing zone with the exact read_json calls of models/raw/_tmdb__sources.yml."""
    counts = {}
    for name, location in external_locations().items():
        if name not in tables:
            continue
        query = location.replace("$tmdb_landing_dir", str(landing)).replace("$name", name)
        if not list(landing.glob(f"batch=*/{name}*.ndjson")):
            counts[name] = 0  # no batch holds such files (dbt says "nothing staged")
            continue
        with duckdb.connect() as con:
            counts[name] = con.sql(f"select count(*) from {query}").fetchone()[0]
    return counts
