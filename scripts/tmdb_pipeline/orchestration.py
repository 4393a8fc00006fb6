"""The steps an orchestrator (the Airflow DAG in orchestration/airflow/) runs one task at a time.

`make run` does these in one process; an orchestrator needs them apart, each a command whose last line of
standard output is one JSON object (announcements go to standard error), so a task can read its answer:

  get-data --source S     get the data (download from Kaggle, generate the sample, or check a folder);
                          answers {"source", "kind", "path", "label"}. `source` is what `stage --source`
                          takes to stage the same data into the same data folder.
  build-needed            after `stage`: whether `dbt build` would change anything, decided as `make run`
                          decides (build_stamp); answers {"build_needed", "reason", "data_dir", "packages"}.
                          When a build is needed the green-build stamp is removed first, as `make run` does
                          before building: until the build ends green, the warehouse may be anything.
  render-dbt --out DIR    what dbt will run, for the orchestrator to draw its graph before anything runs:
                          DIR/dbt_ls.json (`dbt ls` as JSON lines: every model, seed, snapshot and test of
                          the build; dbt-expectations tests left out when the packages are missing) and
                          DIR/dbt_render.json (the project folder dbt must run in -- the project or its
                          offline view --, the dbt executable, the --exclude the build needs, and dbt's env).
  record-build            after a green build by the orchestrator: write the stamp `make run` writes, so the
                          next `make run` or DAG run agrees that nothing is left to do.
  publish [--version V]   export every marts table as Parquet into <data dir>/publish/<V>/ and point
                          <data dir>/publish/latest at it; refuses unless the warehouse is the one the last
                          green build left.

The data folder is TMDB_DATA_DIR, else data/current (the folder staged last), as for `pipeline.py build`.
Exit status: 0 when the step did its work (`build-needed` answers either way with 0), 2 for something the
user must fix (the message on standard error says what), 3 when a lock is held.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tmdb_pipeline import build_stamp, dbt_runner, paths
from tmdb_pipeline.errors import UserError

COMMANDS = {
    "get-data": "get the data (Kaggle, sample or folder) and say what `stage --source` takes",
    "build-needed": "after staging: whether a dbt build would change anything (JSON answer)",
    "render-dbt": "write what dbt will run (dbt ls JSON) for an orchestrator to render its graph",
    "record-build": "after a green build run by an orchestrator: record it as `make run` does",
    "publish": "export the marts of the last green build as Parquet into <data dir>/publish/<version>/",
}
# What `dbt ls` lists for the orchestrator: the keys Cosmos reads from a dbt ls file (LoadMode.DBT_LS_FILE).
LS_KEYS = (
    "name",
    "unique_id",
    "resource_type",
    "depends_on",
    "original_file_path",
    "tags",
    "config",
    "freshness",
    "fqn",
)
# Unit tests, exposures and analyses are not tasks of an orchestrator; dbt build still runs the unit tests.
LS_RESOURCE_TYPES = ("model", "seed", "snapshot", "test", "source")
PUBLISH_SCHEMA = "marts"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _answer(payload: dict[str, Any]) -> int:
    print(json.dumps(payload, sort_keys=True), flush=True)
    return 0


def _data_dir() -> Path:
    if os.environ.get("TMDB_DATA_DIR"):
        return Path(os.environ["TMDB_DATA_DIR"]).resolve()
    if not paths.CURRENT_LINK.exists():
        raise UserError(
            "Nothing has been staged yet. Stage first (`pipeline.py stage --source sample` works offline)."
        )
    return paths.CURRENT_LINK.resolve()


def get_data(source: str) -> dict[str, Any]:
    from tmdb_pipeline import extract

    dataset = extract.resolve_source(source, announce=_say)
    return {
        "source": str(dataset.path) if dataset.kind == "folder" else dataset.kind,
        "kind": dataset.kind,
        "path": str(dataset.path),
        "label": dataset.label,
    }


def build_needed(target: str) -> dict[str, Any]:
    data_dir = _data_dir()
    packages = dbt_runner.prepare_packages(_say)
    unchanged = build_stamp.unchanged_since_last_green_build(data_dir, target, packages.mode)
    if unchanged:
        reason = (
            "nothing new was staged, and the project, dbt packages and warehouse are as the last green"
            " build left them"
        )
    else:
        reason = (
            "no green build recorded for this data folder"
            if not build_stamp.stamp_path(data_dir, target).is_file()
            else "new data, a code, package or tool change, or a warehouse changed since the last green build"
        )
        build_stamp.forget(data_dir, target)
    return {
        "build_needed": not unchanged,
        "reason": reason,
        "data_dir": str(data_dir),
        "warehouse": str(paths.warehouse_path(data_dir)),
        "packages": packages.mode,
    }


def render_dbt(out: Path) -> dict[str, Any]:
    """`dbt ls` through the pipeline's package handling, into out/dbt_ls.json, and how to run dbt."""
    packages = dbt_runner.prepare_packages(_say)
    out.mkdir(parents=True, exist_ok=True)
    args = ["ls", "--output", "json", "--output-keys", *LS_KEYS, "--target-path", str(out / "dbt-target")]
    for resource_type in LS_RESOURCE_TYPES:
        args += ["--resource-type", resource_type]
    command = dbt_runner.dbt_command(args, packages)
    env = dbt_runner.dbt_env(None)
    env["DBT_LOG_PATH"] = str(out / "dbt-logs")
    env["DBT_TARGET_PATH"] = str(out / "dbt-target")
    done = subprocess.run(command, cwd=paths.REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    nodes = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not nodes:
        raise UserError(
            f"dbt ls failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}\n"
            "Fix the project so that `pipeline.py dbt parse` passes, then render again."
        )
    ls_file = out / "dbt_ls.json"
    tmp = ls_file.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text("\n".join(nodes) + "\n", encoding="utf-8")
    tmp.replace(ls_file)
    project_dir = command[command.index("--project-dir") + 1] if "--project-dir" in command else None
    render = {
        "project_dir": project_dir or str(paths.REPO_ROOT),
        "profiles_dir": str(paths.REPO_ROOT),
        "dbt_executable": command[0],
        # what the build must leave out, as the pipeline leaves it out (dbt-expectations without its package)
        "exclude": [] if packages.complete else [dbt_runner.EXPECTATIONS_SELECTOR],
        "packages": packages.mode,
        "packages_detail": packages.detail,
        "skipped_tests": [] if packages.complete else _skipped_tests(out / "dbt-target" / "manifest.json"),
        # dbt's log folder as the pipeline sets it; the target folder stays the project's own ("target"): an
        # orchestrator that runs dbt in a copy of the project (Cosmos) keeps dbt's parse of that copy apart
        "env": {"DBT_TARGET_PATH": "target", "DBT_LOG_PATH": str(dbt_runner.LOG_DIR)},
        "ls_file": str(ls_file),
        "nodes": len(nodes),
        "project_digest": build_stamp.project_digest(),
    }
    render_file = out / "dbt_render.json"
    tmp = render_file.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(render, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(render_file)
    return {"render_file": str(render_file), **render}


def _skipped_tests(manifest: Path) -> list[str]:
    if not manifest.is_file():
        return []
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
    return sorted(
        node["name"]
        for node in nodes
        if node["resource_type"] == "test"
        and (node.get("test_metadata") or {}).get("name", "").startswith("expect_")
    )


def record_build(target: str) -> dict[str, Any]:
    data_dir = _data_dir()
    packages = dbt_runner.prepare_packages(_say)
    build_stamp.record(data_dir, target, packages.mode)
    return {"recorded": str(build_stamp.stamp_path(data_dir, target)), "data_dir": str(data_dir)}


def publish(version: str | None) -> dict[str, Any]:
    """The marts of the last green build as Parquet files, in a new version folder, then `latest`."""
    import duckdb

    data_dir = _data_dir()
    packages = dbt_runner.prepare_packages(_say)
    if not build_stamp.unchanged_since_last_green_build(data_dir, "duckdb", packages.mode):
        raise UserError(
            f"Nothing published: the warehouse of {data_dir} is not the one a green build left (a build "
            "failed or was interrupted, new data is staged but not built, or the project changed). "
            "Build first (`make run`)."
        )
    version = version or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    root = data_dir / "publish"
    final = root / version
    if final.exists():
        raise UserError(f"{final} exists already: publish versions are never overwritten.")
    partial = root / f".{version}.partial"
    partial.mkdir(parents=True, exist_ok=False)
    tables: dict[str, int] = {}
    warehouse = paths.warehouse_path(data_dir)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = ?"
                " and table_catalog = current_database() order by table_name",
                [PUBLISH_SCHEMA],
            ).fetchall()
        ]
        for name in names:
            file = partial / f"{name}.parquet"
            relation = f'"{PUBLISH_SCHEMA}"."{name}"'
            con.execute(f"copy (select * from {relation}) to '{file}' (format parquet)")
            tables[name] = int((con.execute(f"select count(*) from {relation}").fetchone() or (0,))[0])
    manifest = {"version": version, "warehouse": str(warehouse), "schema": PUBLISH_SCHEMA, "tables": tables}
    (partial / "_manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    partial.rename(final)
    link = root / "latest"
    tmp_link = root / f".latest.{os.getpid()}"
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(version)
    tmp_link.replace(link)
    return {"version": version, "path": str(final), "latest": str(link), "tables": tables}


def main(command: str, argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"pipeline.py {command}", description=COMMANDS[command])
    if command == "get-data":
        parser.add_argument("--source", default="auto", help="auto | sample | kaggle | <dataset folder>")
    if command in ("build-needed", "record-build"):
        parser.add_argument("--target", default="duckdb", choices=["duckdb"])
    if command == "render-dbt":
        parser.add_argument(
            "--out", type=Path, default=dbt_runner.TARGET_DIR / "orchestration", help="where to write"
        )
    if command == "publish":
        parser.add_argument("--version", help="the version folder's name (default: UTC time of the run)")
    args = parser.parse_args(argv)
    try:
        if command == "get-data":
            return _answer(get_data(args.source))
        if command == "build-needed":
            return _answer(build_needed(args.target))
        if command == "render-dbt":
            return _answer(render_dbt(args.out.resolve()))
        if command == "record-build":
            return _answer(record_build(args.target))
        return _answer(publish(args.version))
    except UserError as error:
        print(f"\nERROR: {error}", file=sys.stderr)
        return error.exit_code
