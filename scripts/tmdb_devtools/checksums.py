"""Comparing two DuckDB warehouses table by table: the one checksum the benchmark and the tests use.

Per table: its columns and types, its row count, and order-independent checksums (the sum of the row hashes,
and one per column, so a difference names its columns). What is compared is what a table *says*; columns
that record how or when a row was loaded differ by design between two builds of the same data (one
incremental, one from scratch; one today, one tomorrow) and are left out, and the comparison says so:

- load lineage: `*batch_id`, `*loaded_at`, `*staged_at`, `*quarantined_at`, `*updated_at`,
  `raw_record_key`, `superseded_record_count`, `*scd_id` and every `dbt_*` column;
- a history table (one with `is_current`) keeps every version it was loaded with: only its current rows are
  compared, without their validity period (`valid_from`, `valid_to`) or version key (`*_version_key`);
- the per-batch load counts of `marts.mart_audit__load_reconciliation` (a warehouse loaded in two batches
  counts more files and raw rows than one loaded once);
- the tables that are a record of the loads themselves, one row per batch (`marts.mart_audit__load_history`):
  left out whole, and listed as such.

Doubles are compared to 9 significant digits: an average or a sum of doubles differs in its last bits with
the order of evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

COMPARED_SCHEMAS = ("core", "marts")
LINEAGE_SUFFIXES = (
    "batch_id",
    "loaded_at",
    "staged_at",
    "quarantined_at",
    "updated_at",
    "raw_record_key",
    "superseded_record_count",
    "scd_id",
)
LINEAGE_PREFIXES = ("dbt_",)
HISTORY_VALIDITY = ("valid_from", "valid_to")
LOAD_HISTORY_COLUMNS = {
    "marts.mart_audit__load_reconciliation": (
        "files_seen",
        "files_staged",
        "files_quarantined",
        "raw_rows",
        "duplicates_removed",
    ),
}
# One row per batch: two loads of the same data in different batches differ here by design.
LOAD_HISTORY_TABLES = ("marts.mart_audit__load_history",)
DOUBLE_TYPES = ("DOUBLE", "FLOAT", "REAL")


def is_load_lineage(column: str) -> bool:
    lowered = column.lower()
    return lowered.endswith(LINEAGE_SUFFIXES) or lowered.startswith(LINEAGE_PREFIXES)


def left_out(table: str, columns: Sequence[str]) -> list[str]:
    """The columns of a table that record its load history rather than its data."""
    history = "is_current" in columns
    return [
        c
        for c in columns
        if is_load_lineage(c)
        or c in LOAD_HISTORY_COLUMNS.get(table, ())
        or (history and (c in HISTORY_VALIDITY or c.endswith("_version_key")))
    ]


def _value(column: str, data_type: str) -> str:
    quoted = '"' + column.replace('"', '""') + '"'
    return f"printf('%.9g', {quoted})" if data_type in DOUBLE_TYPES else quoted


def table_checksums(warehouse: Path, schemas: Sequence[str] = COMPARED_SCHEMAS) -> dict[str, dict[str, Any]]:
    """`schema.table` -> columns [(name, type)], rows, checksum, column_checksums, left_out and
    current_rows_only."""
    import duckdb

    result: dict[str, dict[str, Any]] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        listed = con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns "
            "where table_catalog = current_database() and table_schema in (select unnest(?)) "
            "order by table_schema, table_name, ordinal_position",
            [list(schemas)],
        ).fetchall()
        tables: dict[str, list[tuple[str, str]]] = {}
        for schema, table, column, data_type in listed:
            tables.setdefault(f"{schema}.{table}", []).append((column, data_type))
        for name, columns in sorted(tables.items()):
            if name in LOAD_HISTORY_TABLES:
                continue
            names = [c for c, _ in columns]
            skipped = left_out(name, names)
            kept = [(c, t) for c, t in columns if c not in skipped]
            values = [_value(c, t) for c, t in kept]
            where = " where is_current" if "is_current" in names else ""
            per_column = "".join(f", coalesce(sum(hash({v})), 0)::varchar" for v in values)
            schema, table = name.split(".", 1)
            found = con.execute(
                f"select count(*), coalesce(sum(hash(row({', '.join(values) or '1'}))), 0)::varchar"
                f"{per_column}"
                f' from "{schema}"."{table}"{where}'
            ).fetchone() or (0, "0")
            result[name] = {
                "columns": columns,
                "rows": int(found[0]),
                "checksum": str(found[1]),
                "column_checksums": dict(zip([c for c, _ in kept], map(str, found[2:]), strict=True)),
                "left_out": skipped,
                "current_rows_only": bool(where),
            }
    return result


def compare(
    first: dict[str, dict[str, Any]], second: dict[str, dict[str, Any]]
) -> tuple[bool, list[dict[str, Any]]]:
    """(all tables identical, one row per table: rows and checksums of each side, the differing columns)."""
    rows = []
    for name in sorted(set(first) | set(second)):
        a, b = first.get(name) or {}, second.get(name) or {}
        columns_a, columns_b = a.get("column_checksums", {}), b.get("column_checksums", {})
        same = (
            bool(a)
            and bool(b)
            and [tuple(c) for c in a["columns"]] == [tuple(c) for c in b["columns"]]
            and a["rows"] == b["rows"]
            and a["checksum"] == b["checksum"]
        )
        rows.append(
            {
                "table": name,
                "first_rows": a.get("rows"),
                "second_rows": b.get("rows"),
                "first_checksum": a.get("checksum"),
                "second_checksum": b.get("checksum"),
                "left_out": (a or b).get("left_out", []),
                "current_rows_only": (a or b).get("current_rows_only", False),
                "differing_columns": sorted(
                    c for c in set(columns_a) | set(columns_b) if columns_a.get(c) != columns_b.get(c)
                ),
                "identical": same,
            }
        )
    return bool(rows) and all(r["identical"] for r in rows), rows


def differences(first: dict[str, dict[str, Any]], second: dict[str, dict[str, Any]]) -> list[str]:
    """What differs between two table_checksums maps, one readable line per table (none when identical)."""
    lines = []
    for row in compare(first, second)[1]:
        if row["identical"]:
            continue
        name = row["table"]
        if row["first_rows"] is None or row["second_rows"] is None:
            lines.append(f"{name}: only in the {'first' if row['first_rows'] is not None else 'second'}")
        elif first[name]["columns"] != second[name]["columns"]:
            lines.append(f"{name}: columns {first[name]['columns']} != {second[name]['columns']}")
        else:
            lines.append(
                f"{name}: {row['first_rows']:,} rows != {row['second_rows']:,} rows, or different values"
                f" in {', '.join(row['differing_columns']) or 'the rows as a whole'}"
            )
    return lines
