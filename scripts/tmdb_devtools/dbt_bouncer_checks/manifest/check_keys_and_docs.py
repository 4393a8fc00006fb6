"""Project checks for dbt-bouncer (loaded through `custom_checks_dir` in dbt-bouncer.yml).

dbt-bouncer has no built-in equivalent of two dbt-project-evaluator rules we enforce:

- `check_model_has_primary_key_test` (evaluator: fct_missing_primary_key_tests): one column is both
  unique and not null, or a set of columns is tested unique together and each of them is not null; the
  project's `primary_key` test (tests/dbt/generic/primary_key.sql) checks both for its `columns`.
  `not_null` may come from a test or from an enforced contract's not_null / primary_key constraint;
  uniqueness always needs a test, because not every engine enforces a primary key constraint.
- `check_source_columns_have_description` (evaluator: fct_undocumented_source_tables, down to the
  columns): every declared source column has a description.
"""

from __future__ import annotations

from typing import Any

from dbt_bouncer.check_framework.decorator import check, fail

UNIQUE_COLUMN_TESTS = {"unique"}
NOT_NULL_COLUMN_TESTS = {"not_null"}
# Tests that make a set of columns unique together: (test name, the kwarg listing the columns).
COMPOUND_UNIQUE_TESTS = {
    "expect_compound_columns_to_be_unique": "column_list",
    "unique_combination_of_columns": "combination_of_columns",
}
NOT_NULL_CONSTRAINTS = {"not_null", "primary_key"}
# The project's generic test that makes its `columns` unique together and not null.
PRIMARY_KEY_TEST = "primary_key"


def _value(item: Any) -> str:
    return str(getattr(item, "value", item) or "")


def _tested_columns(tests: list[Any], names: set[str]) -> set[str]:
    found: set[str] = set()
    for test in tests:
        metadata = getattr(test, "test_metadata", None)
        if metadata is None or getattr(metadata, "name", None) not in names:
            continue
        column = getattr(test, "column_name", None) or (getattr(metadata, "kwargs", None) or {}).get(
            "column_name"
        )
        if column:
            found.add(str(column).strip('"').lower())
    return found


def _compound_unique_sets(tests: list[Any]) -> list[set[str]]:
    sets: list[set[str]] = []
    for test in tests:
        metadata = getattr(test, "test_metadata", None)
        kwarg = COMPOUND_UNIQUE_TESTS.get(getattr(metadata, "name", "") or "")
        if kwarg is None:
            continue
        columns = (getattr(metadata, "kwargs", None) or {}).get(kwarg) or []
        if isinstance(columns, list) and columns:
            sets.append({str(column).strip('"').lower() for column in columns})
    return sets


def _primary_keys(tests: list[Any]) -> list[set[str]]:
    keys: list[set[str]] = []
    for test in tests:
        metadata = getattr(test, "test_metadata", None)
        if getattr(metadata, "name", None) != PRIMARY_KEY_TEST:
            continue
        columns = (getattr(metadata, "kwargs", None) or {}).get("columns") or []
        if isinstance(columns, list) and columns:
            keys.append({str(column).strip('"').lower() for column in columns})
    return keys


def _not_null_by_constraint(model: Any) -> set[str]:
    contract = getattr(model, "contract", None)
    if not contract or getattr(contract, "enforced", False) is not True:
        return set()
    found: set[str] = set()
    for name, column in (getattr(model, "columns", None) or {}).items():
        if any(
            _value(getattr(c, "type", None)) in NOT_NULL_CONSTRAINTS
            for c in getattr(column, "constraints", None) or []
        ):
            found.add(str(name).lower())
    for constraint in getattr(model, "constraints", None) or []:
        if _value(getattr(constraint, "type", None)) == "primary_key":
            found.update(str(column).lower() for column in getattr(constraint, "columns", None) or [])
    return found


@check
def check_model_has_primary_key_test(model: Any, ctx: Any) -> None:
    """A model's grain is tested: one column (or one set of columns) is unique and not null."""
    tests = ctx.tests_by_attached_node.get(model.unique_id, [])
    if _primary_keys(tests):
        return
    unique = _tested_columns(tests, UNIQUE_COLUMN_TESTS)
    not_null = _tested_columns(tests, NOT_NULL_COLUMN_TESTS) | _not_null_by_constraint(model)
    if unique & not_null:
        return
    if any(columns <= not_null for columns in _compound_unique_sets(tests)):
        return
    fail(
        f"`{model.name}` has no primary-key test: no column is tested both `unique` and `not_null` "
        f"(unique: {sorted(unique) or 'none'}; not null: {sorted(not_null) or 'none'}), and no set of "
        "not-null columns is tested unique together."
    )


@check
def check_source_columns_have_description(source: Any) -> None:
    """Every column declared on a source table has a description."""
    missing = [
        name
        for name, column in (getattr(source, "columns", None) or {}).items()
        if len((getattr(column, "description", None) or "").strip()) < 4
    ]
    if missing:
        fail(f"`{source.source_name}.{source.name}` has columns without a description: {missing}")
