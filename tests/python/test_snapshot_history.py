"""SCD2 history across versions of the dataset: stage a generated sample (version 1) and build, stage the
version-2 sample of the same catalogue into the same landing zone and build again; every title whose
tracked attributes changed must then have two versions in dim_title_history (the old one closed, the new
one current with the new values), and every other title one."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from tmdb_pipeline.extract import sample

REPO_ROOT = Path(__file__).resolve().parents[2]
# The document fields the snapshot tracks (snapshots/snap_title_attributes.yml).
TRACKED = (
    "status",
    "popularity",
    "vote_count",
    "vote_average",
    "number_of_seasons",
    "number_of_episodes",
    "in_production",
)
# Only what the history needs: the models upstream of it and the snapshot (tests run in `make test`).
BUILD_HISTORY = (
    "dbt", "build", "--select", "+dim_title_history",
    "--resource-type", "model", "--resource-type", "snapshot", "--resource-type", "seed",
)  # fmt: skip

TitleId = tuple[str, int]


def tracked_values(dataset: Path) -> dict[TitleId, tuple[Any, ...]]:
    """(title_type, id) -> the tracked fields, read straight from the dataset's files."""
    values = {}
    for title_type, sub in (("movie", "movies/movies"), ("series", "series/series")):
        for path in (dataset / sub).glob("*.json"):
            doc = orjson.loads(path.read_bytes())
            values[(title_type, doc["id"])] = tuple(doc.get(field) for field in TRACKED)
    return values


def pipeline(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tmdb_pipeline", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
    assert done.returncode == 0, f"tmdb {' '.join(args)} -> exit {done.returncode}\n{tail}"


@pytest.fixture
def sandbox_env(tmp_path: Path) -> dict[str, str]:
    """The pipeline's environment with its data, dbt target and logs under tmp_path (never the repo's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMDB_", "DBT_", "PYTHONPATH"))}
    env.update(
        HOME=str(tmp_path / "home"),
        TMDB_DATA_ROOT=str(tmp_path / "data"),
        TMDB_SKIP_DBT_DEPS="1",
        TMDB_THREADS="2",
        DBT_TARGET_PATH=str(tmp_path / "target"),
        DBT_LOG_PATH=str(tmp_path / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="False",
    )
    return env


def history(data_root: Path) -> dict[TitleId, list[tuple[Any, ...]]]:
    """(title_type, id) -> its versions in dim_title_history, oldest first: (is_current, valid_to, ...).

    The warehouse is the one of the data folder staged last (data/current)."""
    with duckdb.connect(str(data_root / "current" / "tmdb.duckdb"), read_only=True) as con:
        rows = con.execute(
            """
            select title_type, tmdb_id, is_current, valid_to, status, popularity, vote_count,
                number_of_seasons, number_of_episodes, is_in_production
            from core.dim_title_history
            order by valid_from
            """
        ).fetchall()
    versions: dict[TitleId, list[tuple[Any, ...]]] = {}
    for title_type, tmdb_id, *rest in rows:
        versions.setdefault((title_type, tmdb_id), []).append(tuple(rest))
    return versions


def test_changed_titles_have_two_versions(tmp_path: Path, sandbox_env: dict[str, str]) -> None:
    dataset = tmp_path / "dataset"
    spec = sample.SampleSpec(movies=300, series=150, version=1)
    sample.generate(dataset, spec, workers=1)
    version_1 = tracked_values(dataset)
    pipeline(sandbox_env, "stage", "--source", str(dataset))
    pipeline(sandbox_env, *BUILD_HISTORY)

    sample.generate(dataset, replace(spec, version=2), workers=1, force=True)
    version_2 = tracked_values(dataset)
    pipeline(sandbox_env, "stage", "--source", str(dataset))
    pipeline(sandbox_env, *BUILD_HISTORY)

    changed = {t for t in version_1 if t in version_2 and version_1[t] != version_2[t]}
    assert changed, "the version-2 sample changed no title: nothing to test"
    versions = history(Path(sandbox_env["TMDB_DATA_ROOT"]))
    assert set(versions) == set(version_2)

    for title in changed:
        (old_current, old_valid_to, *_), (new_current, new_valid_to, *new_values) = versions[title]
        assert (old_current, new_current) == (False, True), title
        assert old_valid_to is not None and new_valid_to is None, title
        status, popularity, vote_count, seasons, episodes, in_production = new_values
        expected = dict(zip(TRACKED, version_2[title], strict=True))
        assert (status, popularity, vote_count) == (
            expected["status"], expected["popularity"], expected["vote_count"]
        ), title  # fmt: skip
        if title[0] == "series":
            assert (seasons, episodes, in_production) == (
                expected["number_of_seasons"], expected["number_of_episodes"], expected["in_production"]
            ), title  # fmt: skip

    unchanged = set(version_2) - changed
    assert all(len(versions[title]) == 1 and versions[title][0][0] for title in unchanged)
