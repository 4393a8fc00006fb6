"""Whether `pipeline.py run` may skip `dbt build`: nothing new was staged and nothing about the build changed.

After a green build the pipeline writes a stamp beside the warehouse: the landing zone's batches, a digest
of every file dbt reads (models, macros, seeds, snapshots, tests, the project, profile and package files),
the dbt package mode, the tool versions and the warehouse file as it was left. A later `run` that stages
nothing new compares its own view with the stamp; when all of it matches, the warehouse already holds
exactly what a build would produce, and the run ends in the time the staging scan takes. Anything else --
a new batch, an edited model, another dbt version, a warehouse touched by hand, a failed or interrupted
build (the stamp is removed before every build) -- means a full `dbt build` as before.

A run that does build, with the same code as the last green build, leaves out dbt's unit tests: their
inputs are fixtures in the project, so with the same project, packages and tools they give the same
result as in that build, where they passed (dbt's own advice is to run them in development and CI, not on
every production load). Any change to the code runs them again.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from tmdb_pipeline import paths

# What dbt reads: any change to these can change what a build produces or which tests it runs.
PROJECT_INPUTS = (
    "models",
    "macros",
    "seeds",
    "snapshots",
    "tests/dbt",
    "dbt_project.yml",
    "profiles.yml",
    "packages.yml",
    "package-lock.yml",
    "selectors.yml",
    "dbt_packages",
)
TOOLS = ("dbt-core", "dbt-duckdb", "duckdb", "dbt-spark", "pyspark")


def stamp_path(data_dir: Path, target: str) -> Path:
    return data_dir / f".last-green-build-{target}.json"


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    for name in PROJECT_INPUTS:
        path = root / name
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found += [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted(found)


def project_digest() -> str:
    """One digest of every file dbt reads, by path and content."""
    return _digest_of(paths.REPO_ROOT)


def _digest_of(root: Path) -> str:
    digest = hashlib.sha256()
    for path in _files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _tool_versions() -> dict[str, str]:
    versions = {}
    for tool in TOOLS:
        try:
            versions[tool] = metadata.version(tool)
        except metadata.PackageNotFoundError:
            versions[tool] = ""
    return versions


def _batches(data_dir: Path) -> list[str]:
    landing = paths.landing_dir(data_dir)
    return sorted(p.name for p in landing.glob("batch=*") if p.is_dir()) if landing.is_dir() else []


def _warehouse_state(data_dir: Path, target: str) -> list[Any]:
    """DuckDB: the file's size and modification time (a build or a hand-run dbt command changes them).
    Spark: the metastore and the table folders (a deleted table or catalog means a build)."""
    if target == "spark":
        from tmdb_pipeline import spark_env

        root = spark_env.spark_dir(data_dir)
        if not spark_env.metastore_dir(data_dir).is_dir():
            return []
        return sorted(str(p.relative_to(root)) for p in root.glob("warehouse/*/*") if p.is_dir())
    warehouse = paths.warehouse_path(data_dir)
    if not warehouse.is_file():
        return []
    stat = warehouse.stat()
    return [stat.st_size, stat.st_mtime_ns]


def current_state(data_dir: Path, target: str, packages_mode: str) -> dict[str, Any]:
    return {
        "target": target,
        "warehouse_path": str(paths.warehouse_path(data_dir).resolve()) if target == "duckdb" else "",
        "batches": _batches(data_dir),
        "project": project_digest(),
        "packages": packages_mode,
        "tools": _tool_versions(),
        "warehouse": _warehouse_state(data_dir, target),
    }


def forget(data_dir: Path, target: str) -> None:
    """Before a build: until it ends green, the warehouse may be anything."""
    stamp_path(data_dir, target).unlink(missing_ok=True)


def record(data_dir: Path, target: str, packages_mode: str) -> None:
    path = stamp_path(data_dir, target)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(current_state(data_dir, target, packages_mode), indent=1), encoding="utf-8")
    tmp.replace(path)


# What unit tests depend on: the code and the tools, never the data or the warehouse.
CODE_KEYS = ("target", "project", "packages", "tools")


def code_unchanged_since_last_green_build(data_dir: Path, target: str, packages_mode: str) -> bool:
    """Whether the last green build on this data folder ran the same code with the same tools."""
    recorded = _recorded(data_dir, target)
    if recorded is None:
        return False
    now = {
        "target": target,
        "project": project_digest(),
        "packages": packages_mode,
        "tools": _tool_versions(),
    }
    return all(recorded.get(key) == now[key] for key in CODE_KEYS)


def _recorded(data_dir: Path, target: str) -> dict[str, Any] | None:
    try:
        recorded = json.loads(stamp_path(data_dir, target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return recorded if isinstance(recorded, dict) else None


def unchanged_since_last_green_build(data_dir: Path, target: str, packages_mode: str) -> bool:
    recorded = _recorded(data_dir, target)
    if recorded is None or not recorded.get("warehouse"):
        return False
    return recorded == current_state(data_dir, target, packages_mode)
