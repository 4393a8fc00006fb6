"""The pipeline in one process: `run` is `stage`, then `build` (dbt build, its tests, the publish of the
marts); `dbt_command` is dbt by hand on the same data folder, with its packages handled. Each returns what
its command reports: a RunSummary for the closing summary, or dbt's exit code.

The data flows extract -> stage -> warehouse -> report; `tmdb` (cli.py) only parses a command line and calls
one of these. An orchestrator runs the same steps one task at a time through orchestration.py.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from tmdb_pipeline import extract, ml, monitoring
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.monitoring.history import History
from tmdb_pipeline.project import project
from tmdb_pipeline.report import skipped_tests
from tmdb_pipeline.report.summary import RunSummary
from tmdb_pipeline.stage import manifests
from tmdb_pipeline.stage import stage as stage_batch
from tmdb_pipeline.warehouse import build as build_warehouse
from tmdb_pipeline.warehouse import dbt, packages
from tmdb_pipeline.warehouse.build_stamp import BuildStamp
from tmdb_pipeline.warehouse.targets import for_name
from tmdb_pipeline.workspace import DataRoot, Workspace

log = logging.getLogger(__name__)


def run(source: str, target: str, *, rebuild: bool = False) -> RunSummary:
    """`tmdb run`: stage SOURCE, then build, test and publish the warehouse on `target`. Unless `rebuild`,
    the build is skipped when nothing changed, and the unit tests when the code is the last green build's."""
    summary = RunSummary(started=time.monotonic())
    data_root = DataRoot.from_env()
    with data_root.run_lock():
        workspace = _stage(summary, data_root, source)
        indexing = manifests.index_in_background(workspace.landing)
        try:
            _build(summary, workspace, target, economical=not rebuild)
        finally:
            indexing.join()
        # Later steps of a run go here: after the publish (summary.build.published), still under the run
        # lock, each adding what it did to the summary.
        if summary.ok:
            _train(summary, workspace)
    return summary


def train(publish_dir: Path | None = None) -> ml.MlOutcome:
    """`tmdb ml`: the box-office model from the current data folder's published set (or `publish_dir`)."""
    data_root = DataRoot.from_env()
    workspace = data_root.require_current("train a model on")
    with data_root.run_lock():
        return ml.train(workspace, publish_dir.resolve() if publish_dir else None)


def _train(summary: RunSummary, workspace: Workspace) -> None:
    """After a publish: the box-office model from the published set. A bad input fails the run, naming its
    fix; the warehouse and its published marts stand either way. A checkout without the ml extra still
    builds and publishes."""
    retrain = summary.build is None or summary.build.published is not None
    try:
        summary.model = ml.train(workspace, retrain=retrain).line()
    except ml.MissingExtra as error:
        summary.model = f"not trained: {error}"
    except UserError as error:
        summary.model = f"FAILED: {error}"
        summary.model_failed = True


def stage(
    source: str, *, landing: str | Path | None = None, workers: int = 2, progress: bool | None = None
) -> RunSummary:
    """`tmdb stage`: get SOURCE and stage it into a new batch of the landing zone (default: the data
    folder's landing/)."""
    summary = RunSummary(started=time.monotonic())
    data_root = DataRoot.from_env()
    with data_root.run_lock():
        _stage(summary, data_root, source, landing=landing, workers=workers, progress=progress)
    return summary


def build(target: str) -> RunSummary:
    """`tmdb build`: dbt build (everything, unit tests included) on what was staged last, then publish."""
    summary = RunSummary(started=time.monotonic())
    data_root = DataRoot.from_env()
    workspace = data_root.require_current()
    with data_root.run_lock():
        _build(summary, workspace, target, economical=False)
    return summary


def _stage(
    summary: RunSummary,
    data_root: DataRoot,
    source: str,
    *,
    landing: str | Path | None = None,
    workers: int = 2,
    progress: bool | None = None,
) -> Workspace:
    dataset = extract.resolve_source(source, data_root)
    summary.source = dataset.label
    workspace = data_root.for_source(dataset.kind, dataset.path)
    summary.workspace = workspace
    summary.stage = stage_batch(
        dataset.path,
        Path(landing).resolve() if landing else workspace.landing,
        source_label=dataset.label,
        workers=workers,
        progress=progress,
    )
    workspace.make_current()
    return workspace


def _build(summary: RunSummary, workspace: Workspace, target: str, *, economical: bool) -> None:
    nothing_new = summary.stage is not None and summary.stage.batch_id is None
    summary.workspace = workspace
    summary.build = outcome = build_warehouse(
        workspace,
        target,
        project(),
        economical=economical,
        nothing_new=nothing_new,
        source_label=summary.source or None,
    )
    summary.read_warehouse()
    if outcome.result is not None and outcome.result.skipped_expectations:
        summary.skipped_list = skipped_tests.write_list(
            outcome.result.skipped_expectations, project().target_dir
        )
    summary.freshness, summary.monitoring = monitoring.watch_build(
        workspace,
        outcome,
        project(),
        origin="make run" if summary.stage else "tmdb build",
        staging=summary.stage,
    )


# ----------------------------------------------------------------------------------------------------
# the run history (tmdb_pipeline.monitoring), by hand


def rebuild_history() -> None:
    """`tmdb history rebuild`: set aside what cannot be read, keep (and publish again) every other run."""
    workspace = DataRoot.from_env().require_current("rebuild the history of")
    store = History(workspace.history_dir)
    kept, aside = store.rebuild()
    if kept:
        monitoring.publish_history(store, workspace.published_history_dir)
    log.info("Run history %s: %d runs kept, %d set aside as unreadable.", store.folder, kept, len(aside))
    for folder in aside:
        log.info("  set aside: %s", folder)


def clear_history(*, confirmed: bool) -> None:
    """`tmdb history clear --yes`: delete every recorded run and its published copy."""
    workspace = DataRoot.from_env().require_current("clear the history of")
    store = History(workspace.history_dir)
    if not confirmed:
        raise UserError(
            f"`tmdb history clear` deletes every recorded run in {store.folder} ({len(store.invocations())}"
            " runs) and its published copy. Run it again with --yes to do so."
        )
    removed = store.clear()
    shutil.rmtree(workspace.published_history_dir, ignore_errors=True)
    log.info("Run history %s: %d runs removed.", store.folder, removed)


# ----------------------------------------------------------------------------------------------------
# dbt by hand


def dbt_command(dbt_args: Sequence[str]) -> int:
    """`tmdb dbt ARGS`: any dbt command, with the packages handled, on the current data folder. dbt's exit
    code; the tests a missing package left out are listed after a build or test."""
    dbt_args = list(dbt_args)
    if dbt_args[:1] == ["deps"]:
        return dbt_deps()
    current = project()
    available = packages.prepare(current)
    workspace = DataRoot.from_env().current()
    target = for_name(dbt.target_named(dbt_args) or "duckdb")
    env: dict[str, str] = {}
    if workspace is not None:
        if target.name != "duckdb":
            target.prepare(workspace)  # Spark: something staged, Java, the metastore free
        env = {**workspace.dbt_env(), **target.env(workspace)}
        if dbt.writes_warehouse(dbt_args):
            # dbt by hand may change the warehouse: the next run builds rather than trust the last stamp
            BuildStamp(workspace, target, current).forget(
                f"`tmdb dbt {' '.join(dbt_args)}` ran by hand since"
            )
    code = dbt.run(dbt_args, available, current, env)
    if not available.complete and dbt_args[:1] in (["build"], ["test"]):
        skipped = dbt.expectation_tests(current.target_dir / "manifest.json")
        listed = skipped_tests.write_list(skipped, current.target_dir)
        for line in skipped_tests.note(skipped, available.detail, listed, str(listed)):
            log.info(line)
    return code


def dbt_deps() -> int:
    """`dbt deps` through the pipeline: the mirror or the Hub when they can be had, a clear word if not."""
    available = packages.prepare(project())
    if available.complete:
        log.info(f"dbt packages: {available.mode} ({available.detail}).")
        return 0
    raise UserError(
        f"The dbt packages could not be installed: {available.detail}. Set DBT_PACKAGES_MIRROR to a folder "
        "holding dbt_expectations and dbt_date checkouts, or run where hub.getdbt.com is reachable. Without "
        "them `tmdb dbt ...` still runs, leaving out (and listing) the tests that need them."
    )
