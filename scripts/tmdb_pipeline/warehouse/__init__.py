"""The warehouse: dbt on the landing zone of a data folder, with its packages handled, on a target.

`build()` is `make build` (and the second half of `make run`): prepare the target, get dbt's packages,
decide from the build stamp whether there is anything to do and whether the unit tests must run, run
`dbt build`, record a green build, and publish its marts (write-audit-publish: only what passed). Modules:
`packages` (dbt's packages), `dbt` (running it), `build_stamp` (the last green build), `targets` and
`spark` (what each target needs), `publish` (the marts as Parquet for readers), `docs_site`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from tmdb_pipeline.project import Project
from tmdb_pipeline.warehouse import dbt, packages, publish
from tmdb_pipeline.warehouse.build_stamp import BuildStamp
from tmdb_pipeline.warehouse.dbt import BuildResult
from tmdb_pipeline.warehouse.packages import Packages
from tmdb_pipeline.warehouse.publish import PublishError, PublishResult
from tmdb_pipeline.warehouse.targets import for_name
from tmdb_pipeline.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class BuildOutcome:
    target: str
    packages: Packages
    warehouse: str  # where the built tables are
    result: BuildResult | None = None  # None: dbt build did not run
    skipped_because: str = ""  # why dbt build did not run
    rebuilt_because: str = ""  # why it ran although nothing new was staged
    unit_tests_left_out: str = ""  # why dbt's unit tests were not part of it
    published: PublishResult | None = None  # the marts this build published for readers
    publish_note: str = ""  # what happened to the published marts otherwise
    publish_s: float = 0.0  # how long publishing took

    @property
    def ok(self) -> bool:
        built = self.result is None or self.result.returncode == 0
        return built and not self.publish_note.startswith("FAILED")


def build(
    workspace: Workspace,
    target_name: str,
    project: Project,
    *,
    economical: bool = False,
    nothing_new: bool = False,
    source_label: str | None = None,
) -> BuildOutcome:
    """`dbt build` on a data folder. `economical` (what `make run` does, unless --rebuild): when nothing new
    was staged and the warehouse already is what the build would make, no build; and when the code is the
    last green build's, no unit tests. Otherwise (`make build`) everything, always."""
    target = for_name(target_name)
    target.prepare(workspace)
    available = packages.prepare(project)
    log.info(f"dbt packages: {available.mode} ({available.detail})")
    outcome = BuildOutcome(target.name, available, target.warehouse_label(workspace))
    stamp = BuildStamp(workspace, target, project)
    args = ["build", "--target", target.name]
    if economical and nothing_new:
        why = stamp.why_build(available.mode)
        if why is None:
            outcome.skipped_because = (
                "nothing new was staged, and the project, dbt packages and warehouse are as the last green"
                " build left them (`make build` or `tmdb run --rebuild` builds anyway)"
            )
            # a warehouse whose publish never happened (or was cut off) is published as it stands: it passed
            if not publish.is_of_warehouse(workspace, target.name):
                _publish(workspace, outcome, source_label)
            else:
                outcome.publish_note = "unchanged: the build was skipped, so the last publish stands"
            return outcome
        outcome.rebuilt_because = why
        log.info(f"Building although nothing new was staged: {why}.")
    if economical and stamp.code_unchanged(available.mode):
        args += ["--exclude-resource-type", "unit_test"]
        outcome.unit_tests_left_out = (
            "the models, macros, packages and tools are those of the last green build, where they passed"
            " (`make build` or `tmdb run --rebuild` runs them)"
        )
        log.info(f"Unit tests: left out; {outcome.unit_tests_left_out}.")
    dbt_log = project.log_dir / "dbt.log"
    log_start = dbt_log.stat().st_size if dbt_log.exists() else 0
    stamp.forget()
    started = time.monotonic()
    code = dbt.run(args, available, project, {**workspace.dbt_env(), **target.env(workspace)})
    result = dbt.read_run_results(project)
    result.returncode = code
    result.elapsed_s = time.monotonic() - started
    if code == 0:
        stamp.record(available.mode)
    elif hint := target.failure_hint(workspace, dbt.log_since(dbt_log, log_start)):
        log.warning(f"\n{hint}")
    if not available.complete:
        result.skipped_expectations = dbt.expectation_tests(project.target_dir / "manifest.json")
    outcome.result = result
    if code == 0:  # only what passed is published; a failed build leaves the last published set alone
        _publish(workspace, outcome, source_label)
    return outcome


def _publish(workspace: Workspace, outcome: BuildOutcome, source_label: str | None) -> None:
    tests: dict[str, object] | None = None
    if outcome.result is not None:
        tests = {**outcome.result.tests(), "skipped_reason": _skipped_reason(outcome)}
    started = time.monotonic()
    try:
        outcome.published = publish.publish(
            workspace, target=outcome.target, source_label=source_label, tests=tests
        )
    except PublishError as error:
        outcome.publish_note = f"FAILED: {error}"
    outcome.publish_s = time.monotonic() - started


def _skipped_reason(outcome: BuildOutcome) -> str:
    reasons = []
    if outcome.result is not None and outcome.result.skipped_expectations:
        reasons.append(
            f"{len(outcome.result.skipped_expectations)} need dbt-expectations ({outcome.packages.detail})"
        )
    if outcome.unit_tests_left_out:
        reasons.append(f"unit tests not run: {outcome.unit_tests_left_out}")
    return "; ".join(reasons)
