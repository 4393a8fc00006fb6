"""Whether a run may skip `dbt build`: nothing new was staged and nothing about the build changed.

After a green build the pipeline writes a stamp into the data folder: the landing zone's batches, a digest
of every file dbt reads (models, macros, seeds, snapshots, tests, the project, profile and package files),
the dbt package mode, the tool versions and the warehouse as it was left. A later run that stages nothing
new compares its own view with the stamp; when all of it matches, the warehouse already holds exactly what a
build would produce, and the run ends in the time the staging scan takes. Anything else -- a new batch, an
edited model, another dbt version, a warehouse written by hand, a failed or interrupted build (the stamp is
removed before every build) -- means a build, and `why_build` says which.

A run that does build, with the same code as the last green build, leaves out dbt's unit tests: their inputs
are fixtures in the project, so with the same project, packages and tools they give the result they gave in
that build, where they passed (dbt advises running them in development and CI, not on every production
load). Any change to the code runs them again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.project import Project
from tmdb_pipeline.warehouse.targets import Target
from tmdb_pipeline.workspace import Workspace

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
)
PACKAGES_FOLDER = "dbt_packages"  # one digest per installed package
TOOLS = ("dbt-core", "dbt-duckdb", "duckdb", "dbt-spark", "pyspark")
# What unit tests depend on: the code and the tools, never the data or the warehouse.
CODE_KEYS = ("target", "files", "packages", "tools")
VERSION = 2  # of the stamp's layout: a stamp of another layout is no stamp


class BuildStamp:
    """The record of the last green build of one data folder on one target."""

    def __init__(self, workspace: Workspace, target: Target, project: Project) -> None:
        self.workspace, self.target, self.project = workspace, target, project
        self.path = workspace.stamp_file(target.name)

    def state(self, packages_mode: str) -> dict[str, Any]:
        return {
            "version": VERSION,
            "target": self.target.name,
            "warehouse_path": str(self.workspace.warehouse) if self.target.name == "duckdb" else "",
            "batches": self.workspace.batches(),
            "files": file_digests(self.project.root),
            "packages": packages_mode,
            "tools": tool_versions(),
            "warehouse": self.target.state(self.workspace),
        }

    def why_build(self, packages_mode: str) -> str | None:
        """None when the warehouse is what a build would make; otherwise why it is not, in a few words."""
        recorded = self._read()
        if recorded is None:
            return "no green build is recorded for this warehouse"
        if "forgotten" in recorded:
            return str(recorded["forgotten"])
        return describe_changes(recorded, self.state(packages_mode))

    def code_unchanged(self, packages_mode: str) -> bool:
        """Whether the last green build ran the same code, with the same tools."""
        recorded = self._recorded()
        if recorded is None:
            return False
        now = self.state(packages_mode)
        return all(recorded.get(key) == now[key] for key in CODE_KEYS)

    def forget(self, why: str = "the last build did not end green (it failed, or was stopped)") -> None:
        """Before a build, or dbt by hand: until it ends green, the warehouse may be anything. `why` is what
        the next run says when it builds for that reason."""
        self._write({"version": VERSION, "forgotten": why})

    def record(self, packages_mode: str) -> None:
        self._write(self.state(packages_mode))

    def _write(self, content: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(content, indent=1), encoding="utf-8")
            tmp.replace(self.path)
        except OSError as exc:  # the data folder turned read-only or full under a run
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise UserError(
                f"Cannot write the build record {self.path} ({exc.strerror}). Nothing was published: the "
                "next run builds again. Make the data folder writable (or free space on its disk), then run "
                "again."
            ) from None

    def _read(self) -> dict[str, Any] | None:
        try:
            recorded = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return recorded if isinstance(recorded, dict) and recorded.get("version") == VERSION else None

    def _recorded(self) -> dict[str, Any] | None:
        """The state of the last green build, if it still stands."""
        recorded = self._read()
        return None if recorded is None or "forgotten" in recorded else recorded


def describe_changes(recorded: dict[str, Any], now: dict[str, Any]) -> str | None:
    """What differs between a recorded state and the present one, most telling first; None when nothing."""
    if recorded.get("warehouse_path") != now["warehouse_path"]:
        return f"the warehouse is now {now['warehouse_path']} (the last green build wrote another file)"
    new = [batch for batch in now["batches"] if batch not in recorded.get("batches", [])]
    if new:
        return f"batch {', '.join(new)} is not in the warehouse yet"
    if recorded.get("batches") != now["batches"]:
        return "batches the warehouse was built from are no longer in the landing zone"
    changed = _changed_files(recorded.get("files", {}), now["files"])
    if changed:
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        return f"project files changed since the last green build: {shown}"
    if recorded.get("packages") != now["packages"]:
        return (
            f"the dbt packages are {now['packages']} now, {recorded.get('packages')} at the last green build"
        )
    tools = recorded.get("tools", {})
    for tool, version in now["tools"].items():
        if tools.get(tool) != version:
            was = tools.get(tool) or "absent"
            return f"{tool} is {version or 'not installed'} now, {was} at the last green build"
    if not now["warehouse"]:
        return "the warehouse is missing"
    if recorded.get("warehouse") != now["warehouse"]:
        return "the warehouse was written since the last green build (by dbt run by hand, or another tool)"
    return None


def _changed_files(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(
        [f"{name} (changed)" for name in after if name in before and before[name] != after[name]]
        + [f"{name} (new)" for name in after if name not in before]
        + [f"{name} (removed)" for name in before if name not in after]
    )


def file_digests(root: Path) -> dict[str, str]:
    """A digest of every file dbt reads, by path; one per installed dbt package."""
    digests = {}
    for name in PROJECT_INPUTS:
        path = root / name
        files = (
            [path]
            if path.is_file()
            else sorted(p for p in path.rglob("*") if p.is_file())
            if path.is_dir()
            else []
        )
        for file in files:
            if "__pycache__" not in file.parts:
                digests[str(file.relative_to(root))] = hashlib.sha256(file.read_bytes()).hexdigest()
    packages = root / PACKAGES_FOLDER
    for package in sorted(p for p in packages.iterdir() if p.is_dir()) if packages.is_dir() else []:
        digest = hashlib.sha256()
        for file in sorted(p for p in package.rglob("*") if p.is_file()):
            digest.update(
                str(file.relative_to(package)).encode() + b"\0" + hashlib.sha256(file.read_bytes()).digest()
            )
        digests[str(package.relative_to(root))] = digest.hexdigest()
    return digests


def tool_versions() -> dict[str, str]:
    versions = {}
    for tool in TOOLS:
        try:
            versions[tool] = metadata.version(tool)
        except metadata.PackageNotFoundError:
            versions[tool] = ""
    return versions
