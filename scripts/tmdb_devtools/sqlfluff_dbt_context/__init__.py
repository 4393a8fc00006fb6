"""dbt's compile-time Jinja context, emulated for sqlfluff's jinja templater (`library_path` in .sqlfluff).

sqlfluff's `apply_dbt_builtins` covers ref, source, config, var, is_incremental, this and return; this
library adds the rest of what our models and macros use, so they render the way `dbt compile` renders
them, without a database or the dbt packages:

- `var(name, default)` answers dbt_project.yml's `vars:` or the default, as dbt does without --vars;
- `execute` is true, so code behind `{% if execute %}` is rendered and linted;
- `run_query(...)` returns a one-row, one-column table whose value is 1 (a number that also reads as
  text), standing in for whatever the warehouse would answer;
- `adapter.dispatch(name, namespace)` resolves to `duckdb__<name>` or `default__<name>` among the macros
  loaded from macros/, and fails loudly when neither exists (a package macro we do not have offline);
- `tmdb.<macro>(...)` (the project's namespace) calls that macro from macros/, as dbt does;
- `dbt.<macro>(...)`: dbt's cross-database macros (type_string, date_trunc, dateadd, ...) render as they do
  on DuckDB; any other `dbt.` macro fails loudly, naming itself, so it can be added here;
- `graph.sources` holds the sources declared in models/**/*.yml (name and meta), as dbt's graph does;
- `exceptions.raise_compiler_error` fails the render with its message, as it fails `dbt compile`.

Nothing here is used by dbt itself.
"""

from __future__ import annotations

import datetime as _datetime
import itertools as _itertools
import os
import re as _re
from pathlib import Path
from typing import Any

import jinja2
import yaml
from sqlfluff.core.templaters.builtins.dbt import MacroReturn

execute = True
dbt_version = "1.11.0"
flags: dict[str, Any] = {"FULL_REFRESH": False, "WHICH": "compile"}
modules = {"datetime": _datetime, "re": _re, "itertools": _itertools}

_QUERY_VALUE = 1


class _Column:
    def __init__(self, name: str) -> None:
        self.name = name

    def values(self) -> list[Any]:
        return [_QUERY_VALUE]


class _Table:
    """The part of agate.Table that macros read: columns[i].values(), rows, column_names."""

    column_names = ("value",)

    @property
    def columns(self) -> list[_Column]:
        return [_Column("value")]

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        return [(_QUERY_VALUE,)]

    def __len__(self) -> int:
        return 1


def run_query(sql: str = "") -> _Table:
    return _Table()


def env_var(name: str, default: str | None = None) -> str:
    if default is not None:
        return os.environ.get(name, default)
    return os.environ.get(name, f"env_var_{name.lower()}")


_NO_DEFAULT = object()


def _project_vars() -> dict[str, Any]:
    project = Path(__file__).resolve().parents[3] / "dbt_project.yml"
    document = yaml.load(
        project.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    )
    found = dict((document or {}).get("vars") or {})
    scoped = found.pop("tmdb", None)  # vars may be scoped to the project: `vars: {tmdb: {...}}`
    return {**found, **scoped} if isinstance(scoped, dict) else found


_VARS = _project_vars()


def var(name: str, default: Any = _NO_DEFAULT) -> Any:
    """dbt's var(): dbt_project.yml's `vars:`, else the default; with neither, dbt fails and so does this."""
    if name in _VARS:
        return _VARS[name]
    if default is not _NO_DEFAULT:
        return default
    raise jinja2.TemplateError(f"var('{name}') has no value in dbt_project.yml vars and no default")


def log(msg: Any = "", info: bool = False) -> str:
    return ""


def doc(name: str) -> str:
    return f"doc_{name}"


class _Exceptions:
    def raise_compiler_error(self, msg: str = "", node: Any = None) -> str:
        raise jinja2.TemplateError(f"raise_compiler_error: {msg}")

    def warn(self, msg: str = "", node: Any = None) -> str:
        return ""


exceptions = _Exceptions()


class _Config:
    """`config(...)` in a model renders to nothing; `config.get(key, default)` answers the default."""

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        return ""

    def get(self, key: str, default: Any = None) -> Any:
        return default

    def require(self, key: str) -> str:
        return f"config_{key}"


config = _Config()


class _Target:
    name = "duckdb"
    type = "duckdb"
    profile_name = "tmdb"
    database = "tmdb"
    schema = "main"
    threads = 2


target = _Target()


class _Adapter:
    type = "duckdb"

    @jinja2.pass_context
    def dispatch(self, context: Any, macro_name: str, macro_namespace: str | None = None) -> Any:
        for prefix in ("duckdb__", "default__"):
            macro = context.get(prefix + macro_name)
            if macro is not None:
                return macro
        raise jinja2.TemplateError(
            f"adapter.dispatch({macro_name!r}, {macro_namespace!r}): neither duckdb__{macro_name} nor "
            f"default__{macro_name} is defined in macros/"
        )

    def quote(self, identifier: str) -> str:
        return f'"{identifier}"'


adapter = _Adapter()


class _ProjectNamespace:
    """`tmdb.some_macro(...)`: the project's macros by their namespace, looked up when called."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, macro_name: str) -> Any:
        namespace = self._name

        @jinja2.pass_context
        def call(context: Any, *args: Any, **kwargs: Any) -> Any:
            macro = context.get(macro_name)
            if macro is None:
                raise jinja2.TemplateError(f"{namespace}.{macro_name}: no macro {macro_name} in macros/")
            try:
                return context.call(macro, *args, **kwargs)
            except MacroReturn as returned:  # the macro's `{{ return(...) }}` ends here, not in its caller
                return returned.value

        return call


tmdb = _ProjectNamespace("tmdb")


def _dateadd(datepart: str, interval: Any, from_date_or_timestamp: Any) -> str:
    return f"({from_date_or_timestamp} + cast({interval} as bigint) * interval 1 {str(datepart).lower()})"


def _datediff(first_date: Any, second_date: Any, datepart: str) -> str:
    return f"date_diff('{datepart}', {first_date}, {second_date})"


# dbt's cross-database macros, rendered as dbt-duckdb renders them.
_DBT_MACROS: dict[str, Any] = {
    "type_string": lambda: "text",
    "type_int": lambda: "integer",
    "type_bigint": lambda: "bigint",
    "type_float": lambda: "float",
    "type_numeric": lambda: "numeric(28,6)",
    "type_boolean": lambda: "boolean",
    "type_timestamp": lambda: "timestamp",
    "current_timestamp": lambda: "now()",
    "date_trunc": lambda datepart, date: f"date_trunc('{datepart}', {date})",
    "dateadd": _dateadd,
    "datediff": _datediff,
    "last_day": lambda date, datepart: f"last_day({date})",
    "concat": lambda fields: " || ".join(str(f) for f in fields),
    "hash": lambda field: f"md5(cast({field} as varchar))",
    "length": lambda expression: f"length({expression})",
    "position": lambda substring_text, string_text: f"position({substring_text} in {string_text})",
    "replace": lambda field, old_chars, new_chars: f"replace({field}, {old_chars}, {new_chars})",
    "right": lambda string_text, length_expression: f"right({string_text}, {length_expression})",
    "split_part": lambda string_text, delimiter_text, part_number: (
        f"split_part({string_text}, {delimiter_text}, {part_number})"
    ),
    "safe_cast": lambda field, type: f"try_cast({field} as {type})",
    "cast": lambda field, type: f"cast({field} as {type})",
    "cast_bool_to_text": lambda field: f"cast({field} as varchar)",
    "any_value": lambda expression: f"any_value({expression})",
    "bool_or": lambda expression: f"bool_or({expression})",
    "string_literal": lambda value: f"'{value}'",
    "escape_single_quotes": lambda expression: str(expression).replace("'", "''"),
    "listagg": lambda measure, delimiter_text="','", order_by_clause=None, limit_num=None: (
        f"string_agg({measure}, {delimiter_text}" + (f" {order_by_clause}" if order_by_clause else "") + ")"
    ),
}


class _DbtNamespace:
    """`dbt.<macro>(...)`: the cross-database macros above; anything else is a templating error."""

    def __getattr__(self, macro_name: str) -> Any:
        if macro_name in _DBT_MACROS:
            return _DBT_MACROS[macro_name]
        raise jinja2.TemplateError(
            f"dbt.{macro_name} is not emulated for sqlfluff: add it to "
            "scripts/tmdb_devtools/sqlfluff_dbt_context/"
        )


dbt = _DbtNamespace()


def _declared_sources() -> dict[str, dict[str, Any]]:
    """The sources of models/**/*.yml, keyed the way dbt keys graph.sources."""
    sources: dict[str, dict[str, Any]] = {}
    models_dir = Path(__file__).resolve().parents[3] / "models"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for path in sorted(models_dir.rglob("*.yml")):
        text = path.read_text(encoding="utf-8")
        if "sources:" not in text:
            continue  # sqlfluff loads this library for every file it lints: parse only what declares sources
        document = yaml.load(text, Loader=loader) or {}  # CSafeLoader or SafeLoader
        for source in document.get("sources") or []:
            source_config = source.get("config") or {}
            meta = {**(source.get("meta") or {}), **(source_config.get("meta") or {})}
            for table in source.get("tables") or []:
                unique_id = f"source.tmdb.{source['name']}.{table['name']}"
                sources[unique_id] = {
                    "unique_id": unique_id,
                    "source_name": source["name"],
                    "name": table["name"],
                    "meta": meta,
                    "config": {"meta": meta},
                }
    return sources


graph = {"nodes": {}, "sources": _declared_sources(), "exposures": {}, "metrics": {}}
