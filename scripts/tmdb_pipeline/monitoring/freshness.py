"""Source freshness: `dbt source freshness` on every run and target, and what it found.

The thresholds live with the sources (models/raw/_tmdb__sources.yml): the landing zone's newest `staged_at`
against the daily schedule. A stale source is reported (summary, history, metrics, alert), never a reason to
fail the run: the warehouse is still what the landing zone holds.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tmdb_pipeline.project import Project
from tmdb_pipeline.warehouse import dbt
from tmdb_pipeline.warehouse.packages import Packages

log = logging.getLogger(__name__)

SOURCES_FILE = "sources.json"


@dataclass
class FreshnessCheck:
    """One source table's verdict."""

    source: str  # <source>.<table>
    status: str  # pass | warn | error | runtime error
    age_s: float | None
    max_loaded_at: str | None


@dataclass
class FreshnessOutcome:
    returncode: int
    elapsed_s: float
    sources_file: Path | None  # None: dbt wrote nothing (it stopped first)
    checks: list[FreshnessCheck] = field(default_factory=list)

    @property
    def worst(self) -> str:
        order = ("pass", "warn", "error", "runtime error")
        if not self.checks:
            return "not checked"
        return max((c.status for c in self.checks), key=lambda s: order.index(s) if s in order else 3)


def check(
    project: Project,
    packages: Packages,
    target: str,
    env: Mapping[str, str],
    out: Path | None = None,
    build_dir: Path | None = None,
) -> FreshnessOutcome:
    """Run `dbt source freshness` on a target; its sources.json goes to `out` (default target/sources.json).
    `build_dir`: the target folder of the build before it (default target/), whose parse dbt starts from.
    A failure of dbt itself is logged and returned, not raised: freshness never stops the pipeline."""
    out = out or project.target_dir / SOURCES_FILE
    out.unlink(missing_ok=True)
    started = time.monotonic()
    # A target folder of its own: dbt writes the manifest of every command it runs, and the build's (with
    # the SQL it ran) must stay for whoever reads it next (`tmdb docs --from-build`, the DAG's docs task).
    # The build's saved parse goes along, so that dbt does not parse the project again.
    work = project.target_dir / "freshness"
    work.mkdir(parents=True, exist_ok=True)
    saved_parse = (build_dir or project.target_dir) / "partial_parse.msgpack"
    if saved_parse.is_file():
        shutil.copy2(saved_parse, work / saved_parse.name)
    args = ["source", "freshness", "--target", target, "--output", str(out), "--target-path", str(work)]
    code = dbt.run(args, packages, project, env)
    outcome = FreshnessOutcome(code, time.monotonic() - started, out if out.is_file() else None)
    outcome.checks = read(out)
    if outcome.sources_file is None:
        log.warning("dbt source freshness wrote no %s (exit code %s): its message is above", out.name, code)
    return outcome


def read(sources_file: Path) -> list[FreshnessCheck]:
    try:
        data: dict[str, Any] = json.loads(sources_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [
        FreshnessCheck(
            source=".".join(str(result.get("unique_id", "")).split(".")[-2:]),
            status=str(result.get("status", "")),
            age_s=result.get("max_loaded_at_time_ago_in_s"),
            max_loaded_at=result.get("max_loaded_at"),
        )
        for result in data.get("results") or []
    ]
