"""The landing zone, the one interface between the Python half and dbt: its layout and its contract.

Layout: `<landing>/batch=<id>/` per staging run (ids b000001, b000002, ...: sortable), each holding the
documents (`movies-<n>.ndjson`, `series-<n>.ndjson`) and `manifest.ndjson`; a batch folder appears whole or
not at all. Contract: the columns of those files and their types, declared once, as the dbt project var
`tmdb_landing_zone` in dbt_project.yml, and read from there by everything on either side: the DuckDB
sources' `read_json(columns=...)` and the Spark landing tables (models/raw/_tmdb__sources.yml,
macros/landing_zone.sql) render it; the stager writes exactly these keys (`stage.write` checks its own rows
against it before reading a file); the tests check both sides against it (tests/python/test_landing_zone.py).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.project import project

BATCH_FOLDER = re.compile(r"^batch=(b\d{6})$")
VAR = "tmdb_landing_zone"
FILES = ("documents", "manifest")  # movies-<n>.ndjson / series-<n>.ndjson, and manifest.ndjson


@dataclass(frozen=True)
class LandingContract:
    documents: MappingProxyType[str, str]  # column -> DuckDB type, in file order
    manifest: MappingProxyType[str, str]

    def columns(self, file: str) -> tuple[str, ...]:
        return tuple(getattr(self, file))

    def check_writer(self, file: str, written: tuple[str, ...]) -> None:
        """Refuse to stage when the writer's columns are not the contract's (they drifted apart)."""
        declared = self.columns(file)
        if written != declared:
            raise UserError(
                f"The stager writes {file} columns {', '.join(written)}, but the landing-zone contract "
                f"(dbt_project.yml, vars.{VAR}.{file}) declares {', '.join(declared)}. Change both together: "
                "dbt reads the files with the declared columns only."
            )


@cache
def contract() -> LandingContract:
    path = project().root / "dbt_project.yml"
    try:
        declared: Any = yaml.safe_load(path.read_text(encoding="utf-8"))["vars"][VAR]
        return LandingContract(
            **{file: MappingProxyType({str(k): str(v) for k, v in declared[file].items()}) for file in FILES}
        )
    except (OSError, KeyError, TypeError, AttributeError, yaml.YAMLError) as exc:
        raise UserError(
            f"{path} does not declare the landing-zone contract (vars.{VAR}.documents and .manifest, each a "
            f"mapping of column to type): {exc!r}."
        ) from exc


def existing_batches(landing: Path) -> list[str]:
    """Complete batches in a landing zone, oldest first."""
    try:
        names = os.listdir(landing)
    except OSError:
        return []
    return sorted(
        m.group(1) for name in names if (m := BATCH_FOLDER.match(name)) and (landing / name).is_dir()
    )


def next_batch_id(batches: list[str]) -> str:
    return f"b{int(batches[-1][1:]) + 1 if batches else 1:06d}"
