"""What a built DuckDB warehouse holds, read-only: relations and rows per layer, and its load accounting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

LAYERS = ("raw", "staging", "intermediate", "core", "marts", "snapshots", "reference")


def layer_row_counts(warehouse: Path) -> dict[str, tuple[int, int]]:
    """Layer schema -> (relations, rows)."""
    import duckdb

    counts: dict[str, tuple[int, int]] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.sql(
            "select table_schema, table_name from information_schema.tables"
            " where table_catalog = current_database()"
        ).fetchall()
        for schema, table in tables:
            if schema not in LAYERS:
                continue
            (rows,) = con.sql(f'select count(*) from "{schema}"."{table}"').fetchone() or (0,)
            relations, total = counts.get(schema, (0, 0))
            counts[schema] = (relations + 1, total + int(rows))
    return counts


def load_accounting(warehouse: Path) -> list[dict[str, Any]]:
    """The warehouse's own reconciliation (files -> raw -> staging -> core), when the build got that far."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        found = con.sql(
            "select count(*) from information_schema.tables"
            " where table_schema = 'marts' and table_name = 'mart_audit__load_reconciliation'"
        ).fetchone()
        if not found or not found[0]:
            return []
        relation = con.sql("select * from marts.mart_audit__load_reconciliation order by entity")
        return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def failing_rows(warehouse: Path, query: str, limit: int = 3) -> list[dict[str, Any]]:
    """A few of the rows a failed data test found (its compiled query, run again read-only), so the
    summary can say what failed: the column, the check, the offending values."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        relation = con.sql(f"select * from ({query}) as failing limit {int(limit)}")
        return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
