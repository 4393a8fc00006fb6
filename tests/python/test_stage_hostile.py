"""Hostile input: every file that is not one JSON object with a positive integer id is quarantined with its
reason (never dropped), and everything else is staged unchanged, however odd its fields."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import batch_lines, movie, read_landing_like_dbt, series
from tmdb_pipeline import stage
from tmdb_pipeline.stage import MAX_DOC_BYTES, REASONS

# (file name, bytes, expected reason) — each a class of bad file the brief and the real world produce
QUARANTINED: list[tuple[str, bytes, str]] = [
    ("movie_101.json", b'{"id": 101, "title": "Truncated', "invalid_json"),
    ("movie_102.json", b'{"id": 102} trailing garbage', "invalid_json"),
    ("movie_103.json", b'{"id": 103,}', "invalid_json"),
    ("movie_104.json", b'{"id": 104, "budget": NaN}', "invalid_json"),
    ("movie_105.json", b'\xef\xbb\xbf{"id": 105}', "invalid_json"),  # a UTF-8 byte order mark
    ("movie_106.json", b'{"id": 106, "x": "\\ud800"}', "invalid_json"),  # a lone surrogate
    ("movie_107.json", b'{"id": 107, "x": ' + b"[" * 2000 + b"]" * 2000 + b"}", "invalid_json"),  # too deep
    ("movie_108.json", b'{"id": 108, "title": "tab\there"}', "invalid_json"),  # raw control character
    ("movie_110.json", b"", "empty_file"),
    ("movie_111.json", b"  \n\t \r\n", "empty_file"),
    ("movie_120.json", b"[1, 2, 3]", "not_an_object"),
    ("movie_121.json", b'[{"id": 121}]', "not_an_object"),
    ("movie_122.json", b'"just a string"', "not_an_object"),
    ("movie_123.json", b"123", "not_an_object"),
    ("movie_124.json", b"null", "not_an_object"),
    ("movie_130.json", b'{"title": "No id"}', "missing_id"),
    ("movie_131.json", b'{"ID": 131}', "missing_id"),
    ("movie_140.json", b'{"id": "140"}', "invalid_id"),
    ("movie_141.json", b'{"id": 141.5}', "invalid_id"),
    ("movie_142.json", b'{"id": 142.0}', "invalid_id"),
    ("movie_143.json", b'{"id": null}', "invalid_id"),
    ("movie_144.json", b'{"id": -144}', "invalid_id"),
    ("movie_145.json", b'{"id": 0}', "invalid_id"),
    ("movie_146.json", b'{"id": true}', "invalid_id"),
    ("movie_147.json", b'{"id": 9223372036854775808}', "invalid_id"),  # past BIGINT
    ("movie_148.json", b'{"id": [148]}', "invalid_id"),
    ("movie_150.json", b'{"id": 150, "title": "caf\xe9"}', "not_utf8"),  # Latin-1, not UTF-8
    ("movie_151.json", b'{"id": 151, "title": "\xff\xfe"}', "not_utf8"),
    ("movie_152.json", b'{"id": 152, "title": "\xc0\xaf"}', "not_utf8"),  # overlong encoding
    ("movie_160.json", orjson.dumps(series(160)), "wrong_entity"),
    ("movie_170.txt", orjson.dumps(movie(170)), "not_json_file"),
    (".DS_Store", b"\x00\x00\x00\x01Bud1", "not_json_file"),
    ("README", b"notes", "not_json_file"),
]
QUARANTINED_SERIES: list[tuple[str, bytes, str]] = [
    ("series_161.json", orjson.dumps(movie(161)), "wrong_entity"),
    ("series_162.json", b"{}", "missing_id"),
]
# Known fields of the wrong type and unknown fields: staged unchanged (dbt staging types and flags them).
STAGED_ODDITIES: dict[str, bytes] = {
    "movie_201.json": orjson.dumps(movie(201, runtime="90 min")),
    "movie_202.json": orjson.dumps(movie(202, genres={"id": 18, "name": "Drama"})),
    "movie_203.json": orjson.dumps(movie(203, title=12345)),
    "movie_204.json": orjson.dumps(movie(204, budget="1,000,000")),
    "movie_205.json": orjson.dumps(
        movie(205, brand_new_field={"nested": [1, None, "x"]}, release_date="someday")
    ),
    "movie_206.json": b'{"id": 206}',  # nothing but an id: neither movie nor series fields
    "movie_207.json": b'{"id":207,"title":"dup key","title":"second"}',
    "movie_208.json": '{"id": 208, "title": "naïve 日本 \\u0026 \\ud83d\\ude00 \u2028"}'.encode(),
    "movie_209.json": b'{"id": 209, "big": 18446744073709551615, "nul": "a\\u0000b"}',
    "movie_210.JSON": orjson.dumps(movie(210)),
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, stage.StageResult]:
    tmp_path = tmp_path_factory.mktemp("hostile")
    dataset = tmp_path / "dataset"
    movies, series_dir = dataset / "movies/movies", dataset / "series/series"
    movies.mkdir(parents=True)
    series_dir.mkdir(parents=True)
    for name, data, _ in QUARANTINED:
        (movies / name).write_bytes(data)
    for name, data, _ in QUARANTINED_SERIES:
        (series_dir / name).write_bytes(data)
    for name, data in STAGED_ODDITIES.items():
        (movies / name).write_bytes(data)
    with open(movies / "movie_180.json", "wb") as big:  # oversized: far above any real document
        big.write(b'{"id": 180, "padding": "')
        big.truncate(MAX_DOC_BYTES + 1024)
    (movies / "movie_190.json").symlink_to(tmp_path / "nowhere.json")  # unreadable: a dangling link
    (movies / "movie_191.json").mkdir()  # unreadable: a folder
    (movies / "movie_192.json").symlink_to("/proc/self/mem")  # unreadable: reading fails (EIO), even for root
    (series_dir / "series_1.json").write_bytes(orjson.dumps(series(1)))
    landing = tmp_path / "landing"
    result = stage.stage(dataset, landing, source_label="hostile", workers=1)
    return dataset, landing, result


def manifest_by_file(landing: Path, batch: str = "b000001") -> dict[str, dict[str, Any]]:
    return {row["source_file"]: row for row in batch_lines(landing, batch, "manifest.ndjson")}


@pytest.mark.parametrize(
    ("name", "data", "reason"), QUARANTINED + QUARANTINED_SERIES, ids=lambda v: str(v)[:30]
)
def test_each_bad_file_is_quarantined_with_its_reason(
    hostile: tuple[Path, Path, stage.StageResult], name: str, data: bytes, reason: str
) -> None:
    _, landing, _ = hostile
    folder = "movies/movies" if not name.startswith("series_") else "series/series"
    row = manifest_by_file(landing)[f"{folder}/{name}"]
    assert (row["status"], row["reason"]) == ("quarantined", reason)
    assert row["detail"]
    assert row["sha256"] == hashlib.sha256(data).hexdigest()
    assert (landing / "batch=b000001" / "quarantine" / f"{row['sha256']}.bin").read_bytes() == data


def test_details_say_what_is_wrong(hostile: tuple[Path, Path, stage.StageResult]) -> None:
    rows = manifest_by_file(hostile[1])
    detail = {name.rsplit("/", 1)[1]: row["detail"] for name, row in rows.items()}
    assert "a string" in detail["movie_140.json"] and '"140"' in detail["movie_140.json"]
    assert "fraction" in detail["movie_141.json"]
    assert "null" in detail["movie_143.json"]
    assert "boolean" in detail["movie_146.json"]
    assert "0xe9" in detail["movie_150.json"]
    assert "an array" in detail["movie_120.json"]
    assert "looks like a series" in detail["movie_160.json"]
    assert "looks like a movie" in detail["series_161.json"]
    assert "folder" in detail["movie_191.json"]
    assert "8,389,632 bytes" in detail["movie_180.json"]
    assert rows["movies/movies/movie_160.json"]["tmdb_id"] == 160  # the id is known even though misplaced


def test_oversized_and_unreadable_files(hostile: tuple[Path, Path, stage.StageResult]) -> None:
    dataset, landing, _ = hostile
    rows = manifest_by_file(landing)
    big = rows["movies/movies/movie_180.json"]
    assert big["reason"] == "oversized" and big["size_bytes"] == MAX_DOC_BYTES + 1024
    copy = landing / "batch=b000001" / "quarantine" / f"{big['sha256']}.bin"
    assert copy.read_bytes() == (dataset / "movies/movies/movie_180.json").read_bytes()
    for name in ("movie_190.json", "movie_191.json", "movie_192.json"):
        row = rows[f"movies/movies/{name}"]
        assert (row["status"], row["reason"], row["sha256"]) == ("quarantined", "unreadable", None)
    assert rows["movies/movies/movie_190.json"]["detail"] == "No such file or directory"
    assert rows["movies/movies/movie_192.json"]["detail"] == "Input/output error"
    assert not list((landing / "batch=b000001" / "quarantine").glob(".partial*"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_a_file_without_read_permission_is_unreadable(tmp_path: Path) -> None:
    folder = tmp_path / "dataset/movies/movies"
    folder.mkdir(parents=True)
    secret = folder / "movie_1.json"
    secret.write_bytes(b'{"id": 1}')
    secret.chmod(0)
    result = stage.stage(tmp_path / "dataset", tmp_path / "landing", source_label="x", workers=1)
    assert result.reasons == {"unreadable": 1}
    assert (
        "Permission denied" in manifest_by_file(tmp_path / "landing")["movies/movies/movie_1.json"]["detail"]
    )


def test_odd_but_valid_documents_are_staged_unchanged(hostile: tuple[Path, Path, stage.StageResult]) -> None:
    _, landing, _ = hostile
    lines = [
        line
        for path in (landing / "batch=b000001").glob("movies-*.ndjson")
        for line in path.read_bytes().splitlines()
    ]
    staged = {orjson.loads(line)["source_file"].rsplit("/", 1)[1]: line for line in lines}
    assert set(staged) == set(STAGED_ODDITIES)
    for name, data in STAGED_ODDITIES.items():
        assert staged[name].endswith(b',"doc":' + data + b"}"), name
    rows = manifest_by_file(landing)
    assert rows["movies/movies/movie_207.json"]["tmdb_id"] == 207
    assert all(rows[f"movies/movies/{name}"]["status"] == "staged" for name in STAGED_ODDITIES)


def test_counts_reconcile(hostile: tuple[Path, Path, stage.StageResult]) -> None:
    dataset, landing, result = hostile
    n_movies = len(os.listdir(dataset / "movies/movies"))
    n_series = len(os.listdir(dataset / "series/series"))
    assert result.seen == {"movies": n_movies, "series": n_series}
    for entity in ("movies", "series"):
        assert (
            result.seen[entity]
            == result.staged[entity] + result.quarantined[entity] + result.unchanged[entity]
        )
    assert result.staged == {"movies": len(STAGED_ODDITIES), "series": 1}
    expected = (
        [reason for _, _, reason in QUARANTINED + QUARANTINED_SERIES] + ["oversized"] + ["unreadable"] * 3
    )
    assert result.reasons == {reason: expected.count(reason) for reason in REASONS if reason in expected}
    assert set(result.reasons) == set(REASONS)  # every class is exercised
    assert sum(result.reasons.values()) == sum(result.quarantined.values())
    rows = manifest_by_file(landing)
    assert len(rows) == sum(result.seen.values())  # every file accounted for, none dropped
    summary = orjson.loads((landing / "batch=b000001/summary.json").read_bytes())
    assert summary["reasons"] == result.reasons
    copies = {p.name for p in (landing / "batch=b000001/quarantine").iterdir()}
    assert copies == {f"{row['sha256']}.bin" for row in rows.values() if row["reason"] and row["sha256"]}
    # what was staged loads with the warehouse's own reader; what would have broken it did not get in
    assert read_landing_like_dbt(landing) == {
        "movies": len(STAGED_ODDITIES),
        "series": 1,
        "manifest": len(rows),
    }


def test_rerun_keeps_quarantined_files_quarantined_without_a_batch(
    hostile: tuple[Path, Path, stage.StageResult],
) -> None:
    dataset, landing, first = hostile
    again = stage.stage(dataset, landing, source_label="hostile", workers=1)
    assert again.batch_id is None
    assert again.unchanged == first.seen
    assert again.still_quarantined == first.quarantined
