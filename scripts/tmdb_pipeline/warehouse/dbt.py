"""Running dbt: the command line for the packages at hand, its environment, and what it reported.

Where dbt-expectations is missing (tmdb_pipeline.warehouse.packages), dbt runs on the offline view of the
project, and every command that selects nodes leaves out the tests that need it (`--exclude
test_name:expect_*`).
dbt resolves a generic test's macro only when the test runs, so the excluded ones still parse, and the
parsed manifest names them: they are reported as skipped, never counted as passed.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tmdb_pipeline.project import Project, tool
from tmdb_pipeline.warehouse.packages import Packages, offline_view

EXPECTATIONS_SELECTOR = "test_name:expect_*"
# Commands that select nodes, and so must leave out the tests whose package is missing. `docs generate`
# compiles every node too (`docs serve` takes no selector).
SELECTING_COMMANDS = {"build", "test", "list", "ls", "run", "seed", "snapshot", "compile", "show"}
# Commands that only read the warehouse (or nothing): after them the last green build still stands.
READ_ONLY_COMMANDS = {"compile", "parse", "list", "ls", "docs", "show", "debug", "deps", "clean", "init"}


@dataclass
class Failure:
    """A node that failed or errored, as dbt reported it."""

    unique_id: str
    message: str
    compiled_code: str  # for a failed data test: the query whose rows are the failures
    examples: list[dict[str, object]] = field(default_factory=list)  # a few of those rows, when read back

    @property
    def is_data_test(self) -> bool:
        return self.unique_id.startswith("test.") and bool(self.compiled_code.strip())

    def __str__(self) -> str:
        return f"{self.unique_id}: {self.message}"


@dataclass
class BuildResult:
    returncode: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # resource type -> status -> n
    failures: list[Failure] = field(default_factory=list)
    skipped_expectations: list[tuple[str, str]] = field(default_factory=list)  # (test name, kind)
    elapsed_s: float = 0.0

    def tests(self) -> dict[str, int]:
        """Data and unit tests: passed, failed (fail + error), warned, skipped (missing package included)."""
        tally: Counter[str] = Counter()
        for resource in ("test", "unit_test"):
            tally.update(self.counts.get(resource, {}))
        return {
            "passed": tally["pass"],
            "failed": tally["fail"] + tally["error"],
            "warned": tally["warn"],
            "skipped": tally["skipped"] + len(self.skipped_expectations),
        }


def command(args: Sequence[str], packages: Packages, project: Project) -> list[str]:
    """The dbt command line for these arguments, leaving out what the missing packages would need."""
    line = [tool("dbt"), *args]
    if packages.complete or not args or args[0].startswith("-"):  # `--help`, `--version`: dbt's own
        return line
    line += ["--project-dir", str(offline_view(project)), "--profiles-dir", str(project.root)]
    if args and (args[0] in SELECTING_COMMANDS or list(args[:2]) == ["docs", "generate"]):
        if EXPECTATIONS_SELECTOR in line:
            return line
        if "--exclude" in line:
            line.insert(line.index("--exclude") + 1, EXPECTATIONS_SELECTOR)
        else:
            line += ["--exclude", EXPECTATIONS_SELECTOR]
    return line


def environment(project: Project, extra: Mapping[str, str]) -> dict[str, str]:
    """dbt's environment: this one, dbt's target/ and logs/ as absolute paths (dbt may run from the offline
    view), and `extra` (a data folder's paths, a target's settings)."""
    return {
        **os.environ,
        "DBT_TARGET_PATH": str(project.target_dir),
        "DBT_LOG_PATH": str(project.log_dir),
        **extra,
    }


def run(args: Sequence[str], packages: Packages, project: Project, env: Mapping[str, str]) -> int:
    """Run dbt in the foreground (its output goes straight to the terminal) and return its exit code."""
    return subprocess.run(
        command(args, packages, project), check=False, cwd=project.root, env=environment(project, env)
    ).returncode


def log_since(log: Path, offset: int) -> str:
    """One run's part of dbt's log: what was written after byte `offset` ('' when it cannot be read)."""
    try:
        with log.open("rb") as opened:
            opened.seek(offset)
            return opened.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def writes_warehouse(args: Sequence[str]) -> bool:
    return bool(args) and args[0] not in READ_ONLY_COMMANDS


def target_named(args: Sequence[str]) -> str | None:
    """The target a dbt command line names (`--target x`, `--target=x`, `-t x`), else dbt's DBT_TARGET."""
    for i, arg in enumerate(args):
        if arg in ("--target", "-t") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--target="):
            return arg.split("=", 1)[1]
    return os.environ.get("DBT_TARGET")


def expectation_tests(manifest: Path) -> list[tuple[str, str]]:
    """(name, kind) of the dbt-expectations tests in a parsed manifest (where the package is missing, the
    ones a command left out)."""
    if not manifest.is_file():
        return []
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
    found = []
    for node in nodes:
        kind = (node.get("test_metadata") or {}).get("name", "")
        if node["resource_type"] == "test" and kind.startswith("expect_"):
            found.append((node["name"], kind))
    return sorted(found)


def read_run_results(project: Project) -> BuildResult:
    results_file = project.target_dir / "run_results.json"
    result = BuildResult(returncode=0)
    if not results_file.is_file():
        return result
    data = json.loads(results_file.read_text(encoding="utf-8"))
    result.elapsed_s = float(data.get("elapsed_time") or 0.0)
    for item in data["results"]:
        resource = item["unique_id"].split(".", 1)[0]
        status = item["status"]
        by_status = result.counts.setdefault(resource, {})
        by_status[status] = by_status.get(status, 0) + 1
        if status in ("error", "fail"):
            message = (item.get("message") or "").strip()[:200]
            result.failures.append(Failure(item["unique_id"], message, item.get("compiled_code") or ""))
    return result
