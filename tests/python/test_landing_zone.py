"""The landing-zone contract (dbt_project.yml, vars.tmdb_landing_zone) is the one declaration of the files
between the stager and dbt: every line the stager writes has exactly its columns, with values of its types,
and dbt reads exactly those columns on DuckDB and on Spark. Any copy that drifts from it fails here."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import duckdb
import orjson
import pytest

from conftest import external_locations, movie, read_landing_like_dbt, series
from tmdb_pipeline import landing_zone, stage
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.landing_zone import contract

SOURCE_FILE = {"movies": "documents", "series": "documents", "manifest": "manifest"}
# What a JSON value of each declared type may be (null stands for a missing value in any column).
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "varchar": (str,),
    "bigint": (int,),
    "json": (dict, list, str, int, float, bool),
    "timestamp": (str,),
}


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A landing zone with staged movies and series and a quarantined file."""
    from conftest import write_dataset

    root = tmp_path_factory.mktemp("contract")
    dataset = write_dataset(
        root / "dataset",
        movies={"movie_1.json": movie(1), "movie_2.json": movie(2), "movie_3.json": b"{not json"},
        series={"series_7.json": series(7)},
    )
    landing = root / "landing"
    stage.stage(dataset, landing, source_label="test", workers=1)
    return landing


def _lines(landing: Path, pattern: str) -> list[dict[str, Any]]:
    return [
        orjson.loads(line)
        for path in sorted(landing.glob(f"batch=*/{pattern}"))
        for line in path.read_bytes().splitlines()
    ]


@pytest.mark.parametrize(
    ("pattern", "file"),
    [("movies-*.ndjson", "documents"), ("series-*.ndjson", "documents"), ("manifest.ndjson", "manifest")],
)
def test_every_line_the_stager_writes_has_the_contracts_columns_and_types(
    staged: Path, pattern: str, file: str
) -> None:
    declared = contract().columns(file)
    lines = _lines(staged, pattern)
    assert lines
    for line in lines:
        assert tuple(line) == declared, f"{pattern}: {tuple(line)} != {declared}"
        for column, value in line.items():
            data_type = getattr(contract(), file)[column]
            assert value is None or isinstance(value, JSON_TYPES[data_type]), (column, value)
            if data_type == "timestamp" and value is not None:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
    if file == "manifest":
        assert {line["status"] for line in lines} == {"staged", "quarantined"}


def test_the_stager_refuses_to_write_files_the_contract_does_not_declare(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    declared = contract()
    renamed = {("sha256" if k == "file_sha256" else k): v for k, v in declared.documents.items()}
    drifted = landing_zone.LandingContract(MappingProxyType(renamed), declared.manifest)
    monkeypatch.setattr("tmdb_pipeline.stage.write.contract", lambda: drifted)
    from conftest import write_dataset

    dataset = write_dataset(tmp_path / "dataset", movies={"movie_1.json": movie(1)})
    with pytest.raises(UserError, match=r"writes documents columns source_file, file_sha256, doc.*declares"):
        stage.stage(dataset, tmp_path / "landing", source_label="x", workers=1)
    assert not list((tmp_path / "landing").glob("batch=*"))  # nothing read, nothing written


def _declared_columns(read_json: str) -> dict[str, str]:
    """The `columns={...}` argument of a rendered read_json call, as name -> lower-case type."""
    found = re.search(r"columns\s*=\s*\{([^}]*)\}", read_json)
    assert found, f"no columns={{...}} in {read_json}"
    pairs = re.findall(r"'([^']+)'\s*:\s*'([^']+)'", found.group(1))
    return {name: data_type.lower() for name, data_type in pairs}


@pytest.mark.parametrize("source", ["movies", "series", "manifest"])
def test_the_duckdb_sources_read_exactly_the_contracts_columns(source: str) -> None:
    read_json = external_locations()[source]
    assert _declared_columns(read_json) == dict(getattr(contract(), SOURCE_FILE[source]))


def test_the_duckdb_sources_read_what_the_stager_wrote(staged: Path) -> None:
    assert read_landing_like_dbt(staged) == {"movies": 2, "series": 1, "manifest": 4}
    location = external_locations()["manifest"].replace("$tmdb_landing_dir", str(staged))
    with duckdb.connect() as con:
        query = f"describe select * from {location.replace('$name', 'manifest')}"
        described = {row[0]: row[1] for row in con.sql(query).fetchall()}
    for column, data_type in contract().manifest.items():
        assert described[column].lower() == data_type, column


def test_the_spark_landing_tables_are_declared_from_the_contract_not_from_a_copy() -> None:
    """The Spark DDL is built from the var at run time (the spark gate builds through it); a list of the
    contract's columns written into the macro would be a second copy that could drift."""
    from tmdb_pipeline.project import project

    macro = (project().root / "macros" / "landing" / "landing_zone.sql").read_text()
    body = macro.split("macro spark__register_landing_zone", 1)[1].split("endmacro", 1)[0]
    assert "var('tmdb_landing_zone')" in body
    copied = [
        column
        for file in ("documents", "manifest")
        for column in contract().columns(file)
        if re.search(rf"\b{column}\b", body)
    ]
    assert copied == [], f"columns written out in the Spark DDL instead of read from the contract: {copied}"
