"""`scripts/pipeline.py`: the commands behind `make run|stage|build|test|docs|bench`."""

from __future__ import annotations

import argparse
import fcntl
import importlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tmdb_pipeline import build_stamp, dbt_runner, paths
from tmdb_pipeline.errors import LockedError, UserError
from tmdb_pipeline.summary import RunSummary, layer_row_counts, load_accounting, print_summary


def _say(message: str) -> None:
    print(message, flush=True)


@contextmanager
def run_lock(data_dir: Path) -> Iterator[None]:
    """One pipeline run per checkout at a time: runs share dbt's target/ folder, and two runs on one warehouse
    would collide. A second run is told so at once instead of waiting or corrupting the first."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock_path = paths.DATA_ROOT / ".pipeline.lock"
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise LockedError(
                f"Another pipeline run ({holder}) is running in this checkout (lock file {lock_path}). "
                "Wait for it to finish, or stop it, then run again. Nothing was changed by this run."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"PID {os.getpid()}, on {data_dir}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()


def ensure_warehouse_free(warehouse: Path) -> None:
    """Fail fast, with the holder named, when another process has the DuckDB file open for writing."""
    if not warehouse.exists():
        return
    import duckdb

    try:
        duckdb.connect(str(warehouse)).close()
    except duckdb.IOException as error:
        raise LockedError(
            f"The warehouse {warehouse} is locked by another process: {str(error).splitlines()[0]}\n"
            "Close that process (a DuckDB shell, a notebook, a BI tool or another dbt run), then run again."
        ) from None


def ensure_writable(folder: Path) -> None:
    """Refuse before dbt starts when the warehouse cannot be written, rather than fail halfway through."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"\0" * 1024 * 1024)
        probe.unlink()
    except OSError as error:
        raise UserError(
            f"Cannot write the warehouse folder {folder}: {error.strerror or error}. Free some disk "
            "space or fix the folder's permissions (or point TMDB_DUCKDB_PATH elsewhere), then run again. "
            "The warehouse was not touched."
        ) from None


def current_data_dir() -> Path:
    if os.environ.get("TMDB_DATA_DIR"):
        return Path(os.environ["TMDB_DATA_DIR"]).resolve()
    if not paths.CURRENT_LINK.exists():
        raise UserError(
            "Nothing has been staged yet, so there is nothing to build. Run `make stage` (or `make run`) "
            "first; `make stage SOURCE=sample` works offline."
        )
    return paths.CURRENT_LINK.resolve()


def resolve_dataset(source: str, summary: RunSummary) -> tuple[Path, Path]:
    """The dataset folder to stage from, and the data folder (landing zone + warehouse) it belongs to."""
    from tmdb_pipeline import extract

    dataset = extract.resolve_source(source, announce=_say)
    summary.source = dataset.label
    return dataset.path, paths.data_dir_for(str(dataset.path) if dataset.kind == "folder" else dataset.kind)


def do_stage(dataset_path: Path, data_dir: Path, summary: RunSummary) -> None:
    from tmdb_pipeline import stage

    summary.stage = stage.stage(dataset_path, paths.landing_dir(data_dir), source_label=summary.source)
    summary.data_dir = data_dir
    paths.point_current_at(data_dir)


def _fill_from_warehouse(summary: RunSummary, data_dir: Path, target: str) -> None:
    warehouse = paths.warehouse_path(data_dir)
    summary.warehouse = warehouse if target == "duckdb" else None
    summary.data_dir = data_dir
    summary.target = target
    if target == "duckdb" and warehouse.exists():
        summary.rows = layer_row_counts(warehouse)
        summary.accounting = load_accounting(warehouse)


def do_build(data_dir: Path, target: str, summary: RunSummary, *, skip_if_unchanged: bool = False) -> int:
    """`dbt build` on the data folder; with skip_if_unchanged (`run`), not when it would change nothing."""
    warehouse = paths.warehouse_path(data_dir)
    if target == "duckdb":
        ensure_writable(warehouse.parent)
        ensure_warehouse_free(warehouse)
    packages = dbt_runner.prepare_packages(_say)
    _say(f"dbt packages: {packages.mode} ({packages.detail})")
    nothing_staged = summary.stage is not None and summary.stage.batch_id is None
    if (
        skip_if_unchanged
        and nothing_staged
        and build_stamp.unchanged_since_last_green_build(data_dir, target, packages.mode)
    ):
        summary.packages = packages
        summary.build_skipped = (
            "nothing new was staged, and the project, dbt packages and warehouse are as the last green"
            " build left them (`make build` or `pipeline.py run --rebuild` builds anyway)"
        )
        _fill_from_warehouse(summary, data_dir, target)
        return 0
    if target == "spark":
        from tmdb_pipeline import spark_env

        # installs requirements-spark.txt on demand, checks Java and that the metastore is free
        spark_env.prepare(data_dir, _say)
        dbt_log = Path(dbt_runner.dbt_env(data_dir)["DBT_LOG_PATH"]) / "dbt.log"
        log_start = spark_env.log_size(dbt_log)
    started = time.monotonic()
    args = ["build", "--target", target]
    if skip_if_unchanged and build_stamp.code_unchanged_since_last_green_build(
        data_dir, target, packages.mode
    ):
        args += ["--exclude-resource-type", "unit_test"]
        summary.unit_tests_skipped = (
            "the models, macros, packages and tools are those of the last green build, where they passed"
            " (`make build` or `pipeline.py run --rebuild` runs them)"
        )
        _say(f"Unit tests: left out; {summary.unit_tests_skipped}.")
    build_stamp.forget(data_dir, target)
    returncode = dbt_runner.run_dbt(args, packages, data_dir)
    if returncode == 0:
        build_stamp.record(data_dir, target, packages.mode)
    if target == "spark" and returncode != 0:
        hint = spark_env.failure_hint(data_dir, dbt_log, log_start)
        if hint:
            _say(f"\n{hint}")
    build = dbt_runner.read_run_results()
    build.returncode = returncode
    build.elapsed_s = time.monotonic() - started
    build.skipped_expectations = [] if packages.complete else dbt_runner.skipped_expectation_tests()
    summary.packages = packages
    summary.build = build
    _fill_from_warehouse(summary, data_dir, target)
    dbt_runner.announce_skipped(packages, build.skipped_expectations, _say)
    return 0 if returncode == 0 else 1


def dbt_target(dbt_args: Sequence[str]) -> str | None:
    """The target a dbt command line names (`--target x`, `--target=x`, `-t x`), else dbt's DBT_TARGET."""
    for i, arg in enumerate(dbt_args):
        if arg in ("--target", "-t") and i + 1 < len(dbt_args):
            return dbt_args[i + 1]
        if arg.startswith("--target="):
            return arg.split("=", 1)[1]
    return os.environ.get("DBT_TARGET")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pipeline.py", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("run", "stage, then build"),
        ("stage", "get the data and stage it into the landing zone"),
        ("build", "dbt build (with tests) on what was staged last"),
    ):
        command = commands.add_parser(name, help=help_text)
        if name in ("run", "stage"):
            command.add_argument(
                "--source",
                default="auto",
                help="auto | sample | kaggle | <dataset folder>",
            )
        if name in ("run", "build"):
            command.add_argument("--target", default="duckdb", choices=["duckdb", "spark"])
        if name == "run":
            command.add_argument(
                "--rebuild",
                action="store_true",
                help="run dbt build even when nothing new was staged and the project is unchanged",
            )
    for name, module in (("test", "gates"), ("docs", "docs"), ("bench", "bench")):
        commands.add_parser(name, help=f"see tmdb_pipeline.{module}", add_help=False)
    dbt = commands.add_parser("dbt", help="run dbt with the packages handled: pipeline.py dbt <dbt args>")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    # --- orchestration steps (the Airflow DAG's tasks): tmdb_pipeline.orchestration --------------------
    from tmdb_pipeline import orchestration

    for name, help_text in orchestration.COMMANDS.items():
        commands.add_parser(name, help=help_text, add_help=False)
    # --- end of orchestration steps -------------------------------------------------------------------

    args, rest = parser.parse_known_args(argv)
    if args.command in orchestration.COMMANDS:
        return orchestration.main(args.command, rest)
    if args.command in ("test", "docs", "bench"):
        module = {"test": "gates", "docs": "docs", "bench": "bench"}[args.command]
        return int(importlib.import_module(f"tmdb_pipeline.{module}").main(rest))
    if args.command == "dbt":
        # dbt's own options (`--select`, `--version`, ...) belong to dbt, wherever argparse put them.
        args.dbt_args = [*args.dbt_args, *rest]
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")

    summary = RunSummary(started=time.monotonic())
    try:
        if args.command == "dbt":
            packages = dbt_runner.prepare_packages(_say)
            data_dir = (
                current_data_dir() if paths.CURRENT_LINK.exists() or os.environ.get("TMDB_DATA_DIR") else None
            )
            if dbt_target(args.dbt_args) == "spark":
                from tmdb_pipeline import spark_env

                # as `build --target spark`: something staged, Java, the metastore free, absolute paths
                spark_env.prepare(data_dir or current_data_dir(), _say)
            if data_dir is not None:
                # dbt by hand may change the warehouse: the next `run` builds rather than trust the stamp
                for target in ("duckdb", "spark"):
                    build_stamp.forget(data_dir, target)
            code = dbt_runner.run_dbt(args.dbt_args, packages, data_dir)
            if not packages.complete and args.dbt_args[:1] and args.dbt_args[0] in ("build", "test"):
                dbt_runner.announce_skipped(packages, dbt_runner.skipped_expectation_tests(), _say)
            return code
        if args.command == "build":
            data_dir = current_data_dir()
            with run_lock(data_dir):
                code = do_build(data_dir, args.target, summary)
        else:
            dataset_path, data_dir = resolve_dataset(args.source, summary)
            with run_lock(data_dir):
                do_stage(dataset_path, data_dir, summary)
                code = (
                    do_build(data_dir, args.target, summary, skip_if_unchanged=not args.rebuild)
                    if args.command == "run"
                    else 0
                )
        print_summary(summary)
        return code
    except UserError as error:
        print(f"\nERROR: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(
            "\nInterrupted. Nothing half-written is visible: the next run picks up from here.",
            file=sys.stderr,
        )
        return 130
