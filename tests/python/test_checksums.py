"""The one warehouse comparison (tmdb_devtools.checksums) that the benchmark and the tests rely on:
it sees every value, but not row order, nor the columns that record how or when a row was loaded."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb

from tmdb_devtools import checksums


def _warehouse(path: Path, rows: list[tuple[int, str, float, str]]) -> Path:
    """core.dim_x (with a batch_id), core.dim_x_history (a history table), marts.agg, and a staging table."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema core; create schema marts; create schema staging")
        con.execute("create table core.dim_x (id integer, title varchar, score double, batch_id varchar)")
        con.executemany("insert into core.dim_x values (?, ?, ?, ?)", rows)
        con.execute(
            "create table core.dim_x_history as select id, title, batch_id as valid_from,"
            " null::varchar as valid_to, true as is_current from core.dim_x"
        )
        con.execute("create table marts.agg as select sum(score) as total, count(*) as n from core.dim_x")
        if len({r[3] for r in rows}) > 1:  # loaded in two batches: the first version of id 3 is history
            con.execute("insert into core.dim_x_history values (3, 'C before', 'b000001', 'b000002', false)")
        con.execute("create table staging.ignored as select 1 as anything")
        # one row per batch: a record of the loads, not of the data
        con.execute(
            "create table marts.mart_audit__load_history as select distinct batch_id, count(*) over ("
            "partition by batch_id) as raw_rows from core.dim_x"
        )
    return path


def test_row_order_and_load_lineage_are_not_compared_but_the_data_is(tmp_path: Path) -> None:
    rows = [(1, "A", 0.1, "b000001"), (2, "B", 0.2, "b000001"), (3, "C", 0.3, "b000002")]
    one = checksums.table_checksums(_warehouse(tmp_path / "one.duckdb", rows))
    reordered = [(r[0], r[1], r[2], "b000001") for r in reversed(rows)]
    two = checksums.table_checksums(_warehouse(tmp_path / "two.duckdb", reordered))
    # only the schemas compared, and not the load history (one batch here, two there)
    assert set(one) == {"core.dim_x", "core.dim_x_history", "marts.agg"}
    assert one["core.dim_x"]["left_out"] == ["batch_id"]
    assert one["core.dim_x_history"]["left_out"] == ["valid_from", "valid_to"]
    assert one["core.dim_x_history"]["rows"] == 3  # current rows only
    identical, table = checksums.compare(one, two)
    assert identical, table
    assert checksums.differences(one, two) == []

    edited = [(1, "A", 0.1, "b000001"), (2, "B (Restored)", 0.2, "b000001"), (3, "C", 0.3, "b000002")]
    three = checksums.table_checksums(_warehouse(tmp_path / "three.duckdb", edited))
    identical, table = checksums.compare(one, three)
    assert not identical
    assert [(r["table"], r["differing_columns"]) for r in table if not r["identical"]] == [
        ("core.dim_x", ["title"]),
        ("core.dim_x_history", ["title"]),
    ]
    del three["marts.agg"]
    assert "marts.agg: only in the first" in checksums.differences(one, three)


def test_every_value_null_duplicate_and_column_counts(tmp_path: Path) -> None:
    def build(rows: str, extra: str = "") -> dict[str, Any]:
        path = tmp_path / f"w{time.monotonic_ns()}" / "tmdb.duckdb"
        path.parent.mkdir()
        with duckdb.connect(str(path)) as con:
            con.execute("create schema core")
            con.execute(
                "create table core.titles as select id, name, now() + to_seconds(id) as loaded_at"
                f"{extra} from (values {rows}) as v(id, name)"
            )
        return checksums.table_checksums(path)

    base = build("(1, 'a'), (2, 'b'), (3, null)")
    assert checksums.differences(build("(3, null), (2, 'b'), (1, 'a')"), base) == []  # order, load times
    for other in (
        "(1, 'a'), (2, 'B'), (3, null)",  # one value
        "(1, 'a'), (2, 'b'), (3, '')",  # NULL is not ''
        "(1, 'a'), (2, 'b'), (3, null), (3, null)",  # a duplicate row
    ):
        assert checksums.differences(base, build(other)), other
    assert checksums.differences(base, build("(1, 'a'), (2, 'b'), (3, null)", ", 0 as extra"))  # a column
    (line,) = checksums.differences(base, build("(1, 'a'), (2, 'b')"))
    assert line.startswith("core.titles: 3 rows != 2 rows")


def test_doubles_are_compared_to_nine_significant_digits(tmp_path: Path) -> None:
    def build(value: str) -> dict[str, Any]:
        path = tmp_path / f"d{time.monotonic_ns()}.duckdb"
        with duckdb.connect(str(path)) as con:
            con.execute(f"create schema marts; create table marts.m as select {value}::double as x")
        return checksums.table_checksums(path)

    assert checksums.differences(build("0.1 + 0.2"), build("0.3")) == []  # last bits of a sum
    assert checksums.differences(build("0.3"), build("0.3000001"))
