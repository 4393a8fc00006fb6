"""Comparing a Spark warehouse with the DuckDB one built from the same batches, table by table, row by row.

Shared by the spark gate (tests/python/test_spark_parity.py: Spark in-process) and the cluster tests
(tests/python/test_spark_cluster.py: Spark behind a Thrift server), with the two builds both make. Spark's
tables are read straight from their parquet files with DuckDB, so no JVM is needed to read them.

Comparisons are order-independent: text, integers, dates and keys exactly, JSON text as parsed JSON,
floating-point numbers within FLOAT_TOLERANCE (the engines sum in different orders); columns stamped with
a build's clock are left out.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import orjson

# Columns stamped with the build's clock (or made from it, like the snapshot's scd id under its core name):
# the two engines build the same batches, so every other column must match.
CLOCK_STAMPED = re.compile(
    r"(^|_)(loaded_at|staged_at|quarantined_at|updated_at|valid_from|valid_to|scd_id)$|^title_version_key$"
)
# Relative tolerance for DOUBLE columns: averages and sums of the same numbers in another order.
FLOAT_TOLERANCE = 1e-9

# What the first (full) build is compared on.
FIRST_BUILD_SCHEMAS = ("core", "marts", "snapshots")
# The second build: every incremental model and the snapshot with what they read and what reads the
# snapshot, and the data tests whose every parent is in it (cautious: no test of an unbuilt table).
SECOND_BUILD_SELECTION = (
    "--select",
    "+dim_title_history",
    "--indirect-selection",
    "cautious",
    "--exclude-resource-type",
    "unit_test",
)
# Of the second build's tables: raw keeps each document as loaded (checked by batch in the tests).
SECOND_BUILD_SCHEMAS = ("staging", "intermediate", "core", "snapshots")

# (schema, table) -> the folder of that table's parquet files on the Spark side
SparkTableDir = Callable[[str, str], Path]


def _duckdb_tables(
    con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]
) -> dict[tuple[str, str], list[str]]:
    """The base tables (not views: Spark's have no files) of these schemas, with their columns."""
    rows = con.sql(
        "select c.table_schema, c.table_name, c.column_name from information_schema.columns as c "
        "inner join information_schema.tables as t "
        "on c.table_schema = t.table_schema and c.table_name = t.table_name "
        f"where c.table_schema in {schemas!r} and t.table_type = 'BASE TABLE' "
        "order by c.table_schema, c.table_name, c.ordinal_position"
    ).fetchall()
    tables: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in rows:
        tables.setdefault((schema, table), []).append(column)
    return tables


def normalise(value: Any, column: str) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, Decimal):
        return float(value)
    if column.endswith("_json") and isinstance(value, str):
        # JSON text: DuckDB and Spark space and order it differently; compare what it says
        return orjson.dumps(orjson.loads(value), option=orjson.OPT_SORT_KEYS).decode()
    return value


def sort_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # floats rounded so that rows differing only within the tolerance sort alike
    return tuple(
        (0, "") if v is None else (1, f"{v:.6g}") if isinstance(v, float) else (1, repr(v)) for v in row
    )


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=FLOAT_TOLERANCE, abs_tol=1e-12)
    return a == b


def compare_tables(
    warehouse: Path, spark_table_dir: SparkTableDir, schemas: tuple[str, ...], only: set[str] | None = None
) -> tuple[list[str], list[str]]:
    """The tables compared (`schema.table`), and one line per table whose rows differ between the DuckDB file
    `warehouse` and the Spark tables found by `spark_table_dir`."""
    compared: list[str] = []
    differences: list[str] = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = _duckdb_tables(con, schemas)
        for (schema, table), all_columns in sorted(tables.items()):
            if only is not None and table not in only:
                continue
            compared.append(f"{schema}.{table}")
            columns = [c for c in all_columns if not CLOCK_STAMPED.search(c)]
            quoted = ", ".join(f'"{c}"' for c in columns)
            spark_dir = spark_table_dir(schema, table)
            if not spark_dir.is_dir():
                differences.append(f"{schema}.{table}: no Spark table at {spark_dir}")
                continue
            rows = {
                "duckdb": con.sql(f'select {quoted} from "{schema}"."{table}"').fetchall(),
                "spark": con.sql(f"select {quoted} from read_parquet('{spark_dir}/*.parquet')").fetchall(),
            }
            duck_rows, spark_rows = (
                sorted(
                    (tuple(normalise(v, c) for v, c in zip(r, columns, strict=True)) for r in found),
                    key=sort_key,
                )
                for found in (rows["duckdb"], rows["spark"])
            )
            if len(duck_rows) != len(spark_rows):
                differences.append(
                    f"{schema}.{table}: {len(duck_rows)} rows on DuckDB, {len(spark_rows)} on Spark"
                )
                continue
            for duck_row, spark_row in zip(duck_rows, spark_rows, strict=True):
                unequal = [
                    f"{col}: {d!r} (DuckDB) != {s!r} (Spark)"
                    for col, d, s in zip(columns, duck_row, spark_row, strict=True)
                    if not same(d, s)
                ]
                if unequal:
                    differences.append(f"{schema}.{table}, first differing row: " + "; ".join(unequal[:5]))
                    break
    return compared, differences


def untested_models(nodes: dict[str, str], manifest: Path) -> set[str]:
    """The models and snapshots a build made without running a test attached to them (the number of tests
    depends on whether dbt-expectations is installed; that every node made was tested does not)."""
    manifest_nodes = orjson.loads(manifest.read_bytes())["nodes"]
    tested = {
        manifest_nodes[node].get("attached_node")
        for node in nodes
        if node.startswith("test.") and node in manifest_nodes
    }
    return {node for node in nodes if node.startswith(("model.", "snapshot.")) and node not in tested}


def passed_as_on_duckdb(on_spark: dict[str, str], on_duckdb: dict[str, str]) -> dict[str, str]:
    """A Spark build's node statuses, once every node is found passed with the same outcome as on DuckDB
    (exposures are a no-op on both)."""
    failed = {node: status for node, status in on_spark.items() if status not in ("success", "pass", "no-op")}
    assert not failed, f"Spark build nodes that did not pass: {failed}"
    assert on_spark == on_duckdb
    return on_spark
