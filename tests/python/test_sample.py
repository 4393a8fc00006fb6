"""The built-in sample: deterministic, shaped like the real files, found by kagglehub offline."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path

import orjson
import pytest

from conftest import pipeline_env, run_tmdb
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.extract import kaggle, sample
from tmdb_pipeline.extract.sample import SampleSpec, documents

MOVIE_KEYS = [
    "adult",
    "backdrop_path",
    "belongs_to_collection",
    "budget",
    "genres",
    "homepage",
    "id",
    "imdb_id",
    "original_language",
    "original_title",
    "overview",
    "popularity",
    "poster_path",
    "production_companies",
    "production_countries",
    "release_date",
    "revenue",
    "runtime",
    "spoken_languages",
    "status",
    "tagline",
    "title",
    "video",
    "vote_average",
    "vote_count",
]
SERIES_KEYS = [
    "backdrop_path",
    "created_by",
    "episode_run_time",
    "first_air_date",
    "genres",
    "homepage",
    "id",
    "in_production",
    "languages",
    "last_air_date",
    "last_episode_to_air",
    "name",
    "next_episode_to_air",
    "networks",
    "number_of_episodes",
    "number_of_seasons",
    "origin_country",
    "original_language",
    "original_name",
    "overview",
    "popularity",
    "poster_path",
    "production_companies",
    "seasons",
    "status",
    "type",
    "vote_average",
    "vote_count",
]
MOVIE_GENRE_IDS = {
    28,
    12,
    16,
    35,
    80,
    99,
    18,
    10751,
    14,
    36,
    27,
    10402,
    9648,
    10749,
    878,
    10770,
    53,
    10752,
    37,
}
TV_GENRE_IDS = {10759, 16, 35, 80, 99, 18, 10751, 10762, 9648, 10763, 10764, 10765, 10766, 10767, 10768, 37}
N_MOVIES, N_SERIES = 3000, 1200


@pytest.fixture(scope="module")
def movies() -> list[dict]:
    return [documents.make_movie(42, i) for i in range(N_MOVIES)]


@pytest.fixture(scope="module")
def series_docs() -> list[dict]:
    return [documents.make_series(42, i) for i in range(N_SERIES)]


def read_folder(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_parameters_give_byte_identical_files_however_the_work_is_split(tmp_path: Path) -> None:
    spec = SampleSpec(movies=120, series=30, seed=7)
    sample.generate(tmp_path / "a", spec, workers=1)
    sample.generate(tmp_path / "b", spec, workers=2)
    first, second = read_folder(tmp_path / "a"), read_folder(tmp_path / "b")
    assert first == second
    assert len([n for n in first if n.startswith("movies/movies/")]) == 120
    assert len([n for n in first if n.startswith("series/series/")]) == 30
    sample.generate(tmp_path / "c", SampleSpec(movies=120, series=30, seed=8), workers=1)
    assert read_folder(tmp_path / "c") != first


def test_files_are_compact_one_line_json_named_by_id(tmp_path: Path) -> None:
    sample.generate(tmp_path / "s", SampleSpec(movies=50, series=20), workers=1)
    for entity, prefix in (("movies", "movie_"), ("series", "series_")):
        for path in (tmp_path / "s" / entity / entity).iterdir():
            data = path.read_bytes()
            assert b"\n" not in data
            doc = orjson.loads(data)
            assert orjson.dumps(doc) == data  # compact, like the real files
            assert path.name == f"{prefix}{doc['id']}.json"


def test_key_order_matches_the_real_files(movies: list[dict], series_docs: list[dict]) -> None:
    assert all(list(doc) == MOVIE_KEYS for doc in movies)
    assert all(list(doc) == SERIES_KEYS for doc in series_docs)


@pytest.mark.real_data
def test_key_sets_match_the_real_sample(
    real_sample_dir: Path, movies: list[dict], series_docs: list[dict]
) -> None:
    real_movie = orjson.loads(next((real_sample_dir / "movies/movies").iterdir()).read_bytes())
    real_series = orjson.loads(next((real_sample_dir / "series/series").iterdir()).read_bytes())
    assert list(real_movie) == list(movies[0])
    assert list(real_series) == list(series_docs[0])
    for nested in ("genres", "production_companies", "production_countries", "spoken_languages"):
        real_items = [
            orjson.loads(p.read_bytes())[nested]
            for p in list((real_sample_dir / "movies/movies").iterdir())[:300]
        ]
        real_keys = {tuple(item) for items in real_items for item in items}
        ours = {tuple(item) for doc in movies for item in doc[nested]}
        assert ours == real_keys, nested


def rate(docs: list[dict], test) -> float:
    return sum(1 for doc in docs if test(doc)) / len(docs)


@pytest.mark.parametrize(
    ("field", "test", "real_rate"),
    [
        ("budget 0", lambda d: d["budget"] == 0, 0.887),
        ("revenue 0", lambda d: d["revenue"] == 0, 0.909),
        ("release_date ''", lambda d: d["release_date"] == "", 0.024),
        ("runtime null", lambda d: d["runtime"] is None, 0.013),
        ("runtime 0", lambda d: d["runtime"] == 0, 0.09),
        ("imdb_id ''", lambda d: d["imdb_id"] == "", 0.09),
        ("homepage ''", lambda d: d["homepage"] == "", 0.854),
        ("homepage null", lambda d: d["homepage"] is None, 0.045),
        ("genres []", lambda d: d["genres"] == [], 0.142),
        ("production_companies []", lambda d: d["production_companies"] == [], 0.41),
        ("vote_count 0", lambda d: d["vote_count"] == 0, 0.22),
        ("belongs_to_collection", lambda d: d["belongs_to_collection"] is not None, 0.071),
    ],
)
def test_movie_quirks_come_at_about_the_real_rates(
    movies: list[dict], field: str, test, real_rate: float
) -> None:
    assert rate(movies, test) == pytest.approx(real_rate, abs=max(0.015, real_rate * 0.25)), field


@pytest.mark.parametrize(
    ("field", "test", "real_rate"),
    [
        ("first_air_date null", lambda d: d["first_air_date"] is None, 0.113),
        ("last_air_date null", lambda d: d["last_air_date"] is None, 0.106),
        ("created_by []", lambda d: d["created_by"] == [], 0.79),
        ("episode_run_time []", lambda d: d["episode_run_time"] == [], 0.63),
        ("networks []", lambda d: d["networks"] == [], 0.5),
        ("vote_count 0", lambda d: d["vote_count"] == 0, 0.81),
        ("in_production", lambda d: d["in_production"], 0.70),
        ("next_episode_to_air", lambda d: d["next_episode_to_air"] is not None, 0.023),
    ],
)
def test_series_quirks_come_at_about_the_real_rates(
    series_docs: list[dict], field: str, test, real_rate: float
) -> None:
    assert rate(series_docs, test) == pytest.approx(real_rate, abs=max(0.015, real_rate * 0.25)), field


def test_movie_values_are_plausible(movies: list[dict]) -> None:
    ids = [doc["id"] for doc in movies]
    assert len(set(ids)) == len(ids)
    for doc in movies:
        assert re.fullmatch(r"tt[0-9]+", doc["imdb_id"]) or doc["imdb_id"] == ""
        assert re.fullmatch(r"[a-z]{2}", doc["original_language"])
        assert all(re.fullmatch(r"[A-Z]{2}", c["iso_3166_1"]) for c in doc["production_countries"])
        assert all(re.fullmatch(r"[a-z]{2}", lang["iso_639_1"]) for lang in doc["spoken_languages"])
        assert all(
            c["origin_country"] == "" or re.fullmatch(r"[A-Z]{2}", c["origin_country"])
            for c in doc["production_companies"]
        )
        assert {g["id"] for g in doc["genres"]} <= MOVIE_GENRE_IDS
        if doc["release_date"]:
            assert 1900 <= date.fromisoformat(doc["release_date"]).year <= 2020
        if doc["vote_count"] == 0:
            assert doc["vote_average"] == 0
        assert 0 <= doc["vote_average"] <= 10
        assert doc["popularity"] >= 0.6
    statuses = Counter(doc["status"] for doc in movies)
    assert set(statuses) <= {"Released", "Post Production", "In Production", "Planned", "Rumored", "Canceled"}
    assert statuses["Released"] > 0.98 * len(movies)


def test_series_values_are_plausible(series_docs: list[dict]) -> None:
    for doc in series_docs:
        first, last = doc["first_air_date"], doc["last_air_date"]
        if first and last:
            assert last >= first
        for day in (first, last):
            if day:
                assert 1900 <= date.fromisoformat(day).year <= 2020
        assert (doc["last_episode_to_air"] is None) == (last is None)
        assert {g["id"] for g in doc["genres"]} <= TV_GENRE_IDS
        assert all(re.fullmatch(r"[A-Z]{2}", c) for c in doc["origin_country"])
        assert all(re.fullmatch(r"[a-z]{2}", lang) for lang in doc["languages"])
        assert doc["number_of_seasons"] == len([s for s in doc["seasons"] if s["season_number"] > 0])
        assert doc["status"] in {"Returning Series", "Ended", "In Production", "Canceled", "Planned", "Pilot"}
        assert doc["type"] in {
            "Scripted",
            "Documentary",
            "Miniseries",
            "Reality",
            "Talk Show",
            "Video",
            "News",
        }
    season_ids = [s["id"] for doc in series_docs for s in doc["seasons"]]
    assert len(season_ids) == len(set(season_ids))


def test_version_2_changes_some_titles_and_adds_a_few(tmp_path: Path) -> None:
    sample.generate(tmp_path / "v1", SampleSpec(movies=400, series=200, version=1), workers=1)
    sample.generate(tmp_path / "v2", SampleSpec(movies=400, series=200, version=2), workers=1)
    v1, v2 = read_folder(tmp_path / "v1"), read_folder(tmp_path / "v2")
    v1.pop(sample.PARAMS_FILE), v2.pop(sample.PARAMS_FILE)
    assert set(v1) < set(v2)
    new = set(v2) - set(v1)
    assert len(new) == 4 + 2  # 1% more of each
    changed = [name for name in v1 if v1[name] != v2[name]]
    assert 0 < len(changed) < 0.2 * len(v1)
    allowed = {
        "popularity",
        "vote_count",
        "vote_average",
        "status",
        "in_production",
        "next_episode_to_air",
        "number_of_seasons",
        "number_of_episodes",
        "seasons",
        "last_air_date",
        "last_episode_to_air",
    }
    fields_changed: Counter[str] = Counter()
    for name in changed:
        before, after = orjson.loads(v1[name]), orjson.loads(v2[name])
        assert before["id"] == after["id"] and list(before) == list(after)
        diff = {key for key in before if before[key] != after[key]}
        assert diff <= allowed, (name, diff)
        fields_changed.update(diff)
        if after.get("first_air_date") and after.get("last_air_date"):
            assert after["last_air_date"] >= after["first_air_date"]
    assert {"popularity", "vote_count", "status", "number_of_seasons"} <= set(fields_changed)


def test_parse_size() -> None:
    assert sample.parse_size("full") == (526_000, 94_000)
    assert sample.parse_size("2000") == (2000, 500)
    assert sample.parse_size("1,000") == (1000, 250)
    for bad in ("0", "-5", "lots", ""):
        with pytest.raises(UserError, match="not valid"):
            sample.parse_size(bad)


def test_kagglehub_finds_the_sample_in_its_cache_without_network(
    no_kaggle_credentials: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kagglehub

    cache = tmp_path / "cache"
    spec = SampleSpec(movies=40, series=10)
    folder, fresh = sample.ensure_in_kagglehub_cache(cache, spec, workers=1)
    assert fresh
    assert kaggle.cache_completion_marker(cache, 1).is_file()
    # the real call, offline: KAGGLE_API_ENVIRONMENT=TEST would send any request to a closed local port
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(cache))
    path = kagglehub.dataset_download("edgartanaka1/tmdb-movies-and-series/versions/1")
    assert Path(path) == folder
    assert len(list((Path(path) / "movies/movies").iterdir())) == 40

    before = {p: p.stat().st_mtime_ns for p in (folder / "movies/movies").iterdir()}
    assert sample.ensure_in_kagglehub_cache(cache, spec, workers=1) == (folder, False)  # reused as is
    assert {p: p.stat().st_mtime_ns for p in (folder / "movies/movies").iterdir()} == before
    folder2, fresh2 = sample.ensure_in_kagglehub_cache(cache, SampleSpec(movies=20, series=5), workers=1)
    assert fresh2 and folder2 == folder
    assert len(list((folder / "movies/movies").iterdir())) == 20  # other parameters: generated afresh


def test_tmdb_sample_writes_a_folder_and_rejects_bad_arguments(tmp_path: Path) -> None:
    done = run_tmdb("sample", "--out", str(tmp_path / "out"), "--size", "40", "--seed", "3", "--version", "2")
    assert done.returncode == 0, done.stderr
    assert "40 movies + 10 series, seed 3, version 2" in done.stdout
    assert len(list((tmp_path / "out/movies/movies").iterdir())) == 41
    again = run_tmdb("sample", "--out", str(tmp_path / "out"), "--size", "40", env=pipeline_env())
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    bad = run_tmdb("sample", "--out", str(tmp_path / "x"), "--size", "many")
    assert bad.returncode == 2 and "not valid" in bad.stderr and "Traceback" not in bad.stderr
