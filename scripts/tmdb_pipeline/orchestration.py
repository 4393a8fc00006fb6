"""The steps an orchestrator (the Airflow DAG in orchestration/airflow/) runs one task at a time.

`make run` does these in one process; an orchestrator needs them apart, each a command whose last line of
standard output is one JSON object (its messages go to standard error), so a task can read its answer:

  tmdb get --source S --json   get the data; {"source", "kind", "path", "label"}: `source` is what
                               `tmdb stage --source` takes to stage the same data into the same data folder
  tmdb build-needed            after staging: whether `dbt build` would change anything, decided as `make run`
                               decides (the build stamp); {"build_needed", "reason", "data_dir", "dbt_env",
                               ...}, dbt_env being the environment `make run` gives dbt for that data folder.
                               When a build is needed the stamp is forgotten, as `make run` does before
                               building.
  tmdb render-dbt --out DIR    what dbt will run, for the orchestrator to draw its graph before anything runs:
                               DIR/dbt_ls.json (`dbt ls` as JSON lines, the dbt-expectations tests left out
                               when their package is missing) and DIR/dbt_render.json (the project folder
                               dbt must run in, the dbt executable, the --exclude the build needs, dbt's env)
                               and DIR/dbt-one-writer, the dbt executable for the orchestrator's tasks: dbt,
                               one process at a time on a data folder (tmdb_pipeline.one_writer)
  tmdb record-build            after a green build run by the orchestrator: the stamp `make run` writes
  tmdb publish                 the marts of the last green build as Parquet (warehouse.publish); refuses
                               unless the warehouse is what that build left

The data folder is TMDB_DATA_DIR, else data/current (the folder staged last), as for `tmdb build`.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from tmdb_pipeline import extract, ml, monitoring
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.project import project
from tmdb_pipeline.warehouse import dbt, packages, publish
from tmdb_pipeline.warehouse.build_stamp import BuildStamp
from tmdb_pipeline.warehouse.targets import for_name
from tmdb_pipeline.workspace import DBT_ENV_VARIABLES, DataRoot, Workspace

log = logging.getLogger(__name__)

# What `dbt ls` lists for the orchestrator: the keys Cosmos reads from a dbt ls file (LoadMode.DBT_LS_FILE).
LS_KEYS = ("name", "unique_id", "resource_type", "depends_on", "original_file_path", "tags", "config",
           "freshness", "fqn")  # fmt: skip
# Unit tests, exposures and analyses are not tasks of an orchestrator; dbt build still runs the unit tests.
LS_RESOURCE_TYPES = ("model", "seed", "snapshot", "test", "source")
ONE_WRITER_SCRIPT = "dbt-one-writer"


def answer(payload: dict[str, Any]) -> int:
    """Print a step's answer: one JSON object, the last line of standard output."""
    print(json.dumps(payload, sort_keys=True, default=str), flush=True)
    return 0


def get(source: str) -> dict[str, Any]:
    """The data of `source`, downloaded or generated, and what `tmdb stage --source` takes to stage it."""
    dataset = extract.resolve_source(source, DataRoot.from_env())
    stage_source = str(dataset.path) if dataset.kind == "folder" else dataset.kind
    return {"source": stage_source, "kind": dataset.kind, "path": str(dataset.path), "label": dataset.label}


def _stamp(workspace: Workspace, target: str) -> BuildStamp:
    return BuildStamp(workspace, for_name(target), project())


def build_needed(target: str) -> dict[str, Any]:
    workspace = DataRoot.from_env().require_current()
    available = packages.prepare(project())
    stamp = _stamp(workspace, target)
    why = stamp.why_build(available.mode)
    if why is not None:
        stamp.forget()  # until the orchestrator's build ends green, the warehouse may be anything
    return {
        "build_needed": why is not None,
        "reason": why
        or "nothing new was staged, and the project, dbt packages and warehouse are as the last green build"
        " left them",
        "data_dir": str(workspace.root),
        "warehouse": str(workspace.warehouse),
        # the environment `make run` gives dbt for this data folder: an orchestrator's dbt gets the same
        "dbt_env": workspace.dbt_env(),
        "packages": available.mode,
    }


def record_build(target: str) -> dict[str, Any]:
    workspace = DataRoot.from_env().require_current()
    stamp = _stamp(workspace, target)
    stamp.record(packages.prepare(project()).mode)
    return {"recorded": str(stamp.path), "data_dir": str(workspace.root)}


def publish_last_green_build(target: str) -> dict[str, Any]:
    workspace = DataRoot.from_env().require_current()
    available = packages.prepare(project())
    why = _stamp(workspace, target).why_build(available.mode)
    if why is not None:
        raise UserError(
            f"Nothing published: the warehouse of {workspace.root} is not what a green build left ({why}). "
            "Build first (`make run`, or the orchestrator's dbt build followed by `tmdb record-build`)."
        )
    result = publish.publish(workspace, target=target)
    return {
        "version": result.version,
        "path": str(result.folder),
        "latest": str(result.latest),
        "relations": result.relations,
    }


def render_dbt(out: Path | None = None) -> dict[str, Any]:
    """`dbt ls` through the pipeline's package handling, into out/dbt_ls.json (default: the project's
    target/orchestration/), and how to run dbt."""
    current = project()
    out = (out or current.target_dir / "orchestration").resolve()
    available = packages.prepare(current)
    out.mkdir(parents=True, exist_ok=True)
    args = ["ls", "--output", "json", "--output-keys", *LS_KEYS, "--target-path", str(out / "dbt-target")]
    for resource_type in LS_RESOURCE_TYPES:
        args += ["--resource-type", resource_type]
    command = dbt.command(args, available, current)
    env = {**dbt.environment(current, {}), "DBT_TARGET_PATH": str(out / "dbt-target")}
    env["DBT_LOG_PATH"] = str(out / "dbt-logs")
    done = subprocess.run(command, cwd=current.root, env=env, capture_output=True, text=True, check=False)
    nodes = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not nodes:
        raise UserError(
            f"dbt ls failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}\n"
            "Fix the project so that `tmdb dbt parse` passes, then render again."
        )
    ls_file = out / "dbt_ls.json"
    _write(ls_file, "\n".join(nodes) + "\n")
    project_dir = command[command.index("--project-dir") + 1] if "--project-dir" in command else None
    render = {
        "project_dir": project_dir or str(current.root),
        "profiles_dir": str(current.root),
        # every dbt the orchestrator starts waits for the data folder's dbt lock first
        "dbt_executable": str(_write_one_writer_script(out, command[0])),
        # what the build must leave out, as the pipeline leaves it out (dbt-expectations without its package)
        "exclude": [] if available.complete else [dbt.EXPECTATIONS_SELECTOR],
        "packages": available.mode,
        "packages_detail": available.detail,
        "skipped_tests": (
            []
            if available.complete
            else [n for n, _ in dbt.expectation_tests(out / "dbt-target" / "manifest.json")]
        ),
        # dbt's log folder as the pipeline sets it; the target folder stays the project's own ("target"): an
        # orchestrator that runs dbt in a copy of the project (Cosmos) keeps dbt's parse of that copy apart
        "env": {"DBT_TARGET_PATH": "target", "DBT_LOG_PATH": str(current.log_dir)},
        # and, each run, these of build-needed's "dbt_env": the data folder's paths, as `make run` sets them
        "data_dir_env": list(DBT_ENV_VARIABLES),
        "ls_file": str(ls_file),
        "nodes": len(nodes),
    }
    render_file = out / "dbt_render.json"
    _write(render_file, json.dumps(render, indent=1, sort_keys=True))
    return {"render_file": str(render_file), **render}


def _write_one_writer_script(out: Path, dbt_executable: str) -> Path:
    """out/dbt-one-writer: `dbt_executable`, one process at a time on the data folder in TMDB_DATA_DIR."""
    script = out / ONE_WRITER_SCRIPT
    command = shlex.join([sys.executable, "-m", "tmdb_pipeline.one_writer", dbt_executable])
    _write(
        script,
        "#!/bin/sh\n"
        "# Written by `tmdb render-dbt`: dbt, one process at a time on the warehouse of the data folder in\n"
        f'# TMDB_DATA_DIR (tmdb_pipeline/one_writer.py)\nexec {command} "$@"\n',
    )
    script.chmod(0o755)
    return script


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def model_answer(outcome: ml.MlOutcome) -> dict[str, Any]:
    """What `tmdb ml --json` answers: where the model went, or why it did not."""
    log.warning("Model: %s", outcome.line())
    return {
        "published": str(outcome.published) if outcome.published else None,
        "not_published_because": outcome.not_published_because or None,
        "no_model_because": outcome.no_model_because or None,
        "data_version": outcome.card.get("data", {}).get("version"),
    }


def record_history(
    target: str, target_dir: Path | None, origin: str, *, freshness: bool = True
) -> dict[str, Any]:
    """`tmdb history record`: a run whose dbt ran in the orchestrator's tasks, recorded from the artifacts
    it left in `target_dir` (default the project's target folder)."""
    workspace = DataRoot.from_env().require_current("record")
    checked, recorded = monitoring.record_from_artifacts(
        workspace,
        project(),
        target,
        (target_dir or project().target_dir).resolve(),
        origin=origin,
        check_freshness=freshness,
    )
    return {
        "invocation_id": recorded.invocation_id,
        "recorded": recorded.written,
        "anomalies": [str(a) for a in recorded.anomalies],
        "freshness": checked.worst if checked else "not checked",
        "alert_sent": recorded.alert_sent,
        "problem": recorded.problem,
    }
