"""`tmdb`: the one command of the project. Every `make` target calls it; `tmdb --help` lists what it does.

One parser tree: a sub-command per thing the pipeline does, each a few calls into the flow's subpackages
(extract -> stage -> warehouse -> report) or into the contributors' tooling (devtools). A user's mistake
ends in a short paragraph saying what to do (errors.UserError), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tmdb_pipeline import extract
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.project import project
from tmdb_pipeline.report import skipped_tests
from tmdb_pipeline.report.summary import RunSummary, print_summary
from tmdb_pipeline.warehouse import BuildOutcome, build, dbt, packages
from tmdb_pipeline.warehouse.targets import NAMES as TARGETS
from tmdb_pipeline.workspace import DataRoot, Workspace


def _say(message: str) -> None:
    print(message, flush=True)


# ----------------------------------------------------------------------------------------------------
# The pipeline: run = stage + build


def _stage(args: argparse.Namespace, data_root: DataRoot, summary: RunSummary) -> Workspace:
    from tmdb_pipeline.stage import stage

    dataset = extract.resolve_source(args.source, data_root, announce=_say)
    summary.source = dataset.label
    workspace = data_root.for_source(dataset.kind, dataset.path)
    summary.workspace = workspace
    landing = Path(args.landing).resolve() if getattr(args, "landing", None) else workspace.landing
    summary.stage = stage(
        dataset.path,
        landing,
        source_label=dataset.label,
        workers=getattr(args, "workers", 2),
        progress=getattr(args, "progress", None),
        announce=_say,
    )
    workspace.make_current()
    return workspace


def _build(workspace: Workspace, target: str, summary: RunSummary, *, economical: bool) -> int:
    nothing_new = summary.stage is not None and summary.stage.batch_id is None
    summary.workspace = workspace
    summary.build = outcome = build(
        workspace,
        target,
        project(),
        economical=economical,
        nothing_new=nothing_new,
        source_label=summary.source or None,
        announce=_say,
    )
    summary.read_warehouse()
    _note_skipped_tests(outcome, summary)
    return 0 if outcome.ok else 1


def _note_skipped_tests(outcome: BuildOutcome, summary: RunSummary) -> None:
    if outcome.result is not None and outcome.result.skipped_expectations:
        summary.skipped_list = skipped_tests.write_list(
            outcome.result.skipped_expectations, project().target_dir
        )


def cmd_run(args: argparse.Namespace) -> int:
    summary = RunSummary(started=time.monotonic())
    data_root = DataRoot.from_env()
    from tmdb_pipeline.stage import manifests

    with data_root.run_lock():
        workspace = _stage(args, data_root, summary)
        indexing = manifests.index_in_background(workspace.landing)
        try:
            code = _build(workspace, args.target, summary, economical=not args.rebuild)
        finally:
            indexing.join()
    print_summary(summary)
    return code


def cmd_stage(args: argparse.Namespace) -> int:
    summary = RunSummary(started=time.monotonic())
    data_root = DataRoot.from_env()
    with data_root.run_lock():
        _stage(args, data_root, summary)
    print_summary(summary)
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    summary = RunSummary(started=time.monotonic())
    data_root = DataRoot.from_env()
    workspace = data_root.require_current()
    with data_root.run_lock():
        code = _build(workspace, args.target, summary, economical=False)
    print_summary(summary)
    return code


def cmd_get(args: argparse.Namespace) -> int:
    if args.json:  # for an orchestrator: announcements to stderr, the answer as the last stdout line
        from tmdb_pipeline import orchestration

        dataset = extract.resolve_source(args.source, DataRoot.from_env(), announce=_warn)
        source = str(dataset.path) if dataset.kind == "folder" else dataset.kind
        payload = {"source": source, "kind": dataset.kind, "path": str(dataset.path), "label": dataset.label}
        return orchestration.answer(payload)
    dataset = extract.resolve_source(args.source, DataRoot.from_env(), announce=_say)
    print(f"{dataset.label}: {dataset.path}")
    return 0


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_build_needed(args: argparse.Namespace) -> int:
    from tmdb_pipeline import orchestration

    return orchestration.answer(orchestration.build_needed(args.target, _warn))


def cmd_record_build(args: argparse.Namespace) -> int:
    from tmdb_pipeline import orchestration

    return orchestration.answer(orchestration.record_build(args.target, _warn))


def cmd_publish(args: argparse.Namespace) -> int:
    from tmdb_pipeline import orchestration

    return orchestration.answer(orchestration.publish_last_green_build(args.target, _warn))


def cmd_render_dbt(args: argparse.Namespace) -> int:
    from tmdb_pipeline import orchestration

    out = (args.out or project().target_dir / "orchestration").resolve()
    return orchestration.answer(orchestration.render_dbt(out, _warn))


def cmd_sample(args: argparse.Namespace) -> int:
    from tmdb_pipeline.extract import sample

    movies, series = sample.parse_size(args.size)
    spec = sample.SampleSpec(movies, series, args.seed, args.version)
    started = time.perf_counter()
    if args.out is not None:
        sample.generate(args.out, spec, workers=args.workers, force=args.force)
        where = args.out
    else:
        where, fresh = sample.ensure_in_kagglehub_cache(args.kagglehub_cache, spec, workers=args.workers)
        if not fresh:
            print(f"The {spec.label()} is already in {where}; nothing to do.")
            return 0
    files = spec.count("movies") + spec.count("series")
    elapsed = time.perf_counter() - started
    print(f"Wrote the {spec.label()} to {where}: {files:,} files in {elapsed:.1f} s.")
    return 0


def cmd_dbt(args: argparse.Namespace) -> int:
    """dbt with the packages handled, on the current data folder (any dbt command and options)."""
    from tmdb_pipeline.warehouse.build_stamp import BuildStamp
    from tmdb_pipeline.warehouse.targets import for_name

    dbt_args = list(args.dbt_args)
    if dbt_args[:1] == ["deps"]:
        return _dbt_deps()
    current = project()
    available = packages.prepare(current, _say)
    workspace = DataRoot.from_env().current()
    target = for_name(dbt_target(dbt_args) or "duckdb")
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
            _say(line)
    return code


def _dbt_deps() -> int:
    """`dbt deps` through the pipeline: the mirror or the Hub when they can be had, a clear word if not."""
    available = packages.prepare(project(), _say)
    if available.complete:
        _say(f"dbt packages: {available.mode} ({available.detail}).")
        return 0
    raise UserError(
        f"The dbt packages could not be installed: {available.detail}. Set DBT_PACKAGES_MIRROR to a folder "
        "holding dbt_expectations and dbt_date checkouts, or run where hub.getdbt.com is reachable. Without "
        "them `tmdb dbt ...` still runs, leaving out (and listing) the tests that need them."
    )


def dbt_target(dbt_args: Sequence[str]) -> str | None:
    """The target a dbt command line names (`--target x`, `--target=x`, `-t x`), else dbt's DBT_TARGET."""
    import os

    for i, arg in enumerate(dbt_args):
        if arg in ("--target", "-t") and i + 1 < len(dbt_args):
            return dbt_args[i + 1]
        if arg.startswith("--target="):
            return arg.split("=", 1)[1]
    return os.environ.get("DBT_TARGET")


def cmd_docs(args: argparse.Namespace) -> int:
    from tmdb_pipeline.warehouse import docs_site

    docs_dir = (args.docs_dir or project().target_dir / "docs").resolve()
    if not args.no_generate:
        workspace = DataRoot.from_env().current()
        if workspace is None:
            raise UserError(
                "There is no warehouse to document yet: nothing has been built. Run `make run` first "
                "(`make run SOURCE=sample` works offline), then `make docs`."
            )
        docs_site.generate(workspace, project(), docs_dir, args.from_build)
        if args.no_serve:
            print(f"dbt docs: site written to {docs_dir}", flush=True)
            return 0
    server = docs_site.server(docs_dir, args.host, args.port)
    host, port = server.server_address[:2]
    print(f"dbt docs: serving {docs_dir} at http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\ndbt docs: stopped.")
    finally:
        server.server_close()
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from tmdb_pipeline.report import dashboard

    publish_dir = args.publish_dir
    if publish_dir is None:
        current = DataRoot.from_env().current()
        publish_dir = current.publish_dir if current else DataRoot.from_env().current_link / "publish"
    return dashboard.serve(
        args.port, publish_dir.resolve() if publish_dir.exists() else publish_dir, host=args.host
    )


def cmd_spark_cluster(args: argparse.Namespace) -> int:
    from tmdb_pipeline.warehouse.spark_cluster import command

    return command(args.action, args.components, kill=args.kill, announce=_say)


def cmd_test(args: argparse.Namespace) -> int:
    from tmdb_pipeline.devtools import gates

    return gates.run_gates(args.only, args.skip)


def cmd_bench(args: argparse.Namespace) -> int:
    from tmdb_pipeline.devtools import bench

    return bench.run_benchmark(args)


def cmd_check_secrets(args: argparse.Namespace) -> int:
    from tmdb_pipeline.devtools import secrets

    return secrets.check(args.files)


def cmd_bench_step(args: argparse.Namespace) -> int:
    from tmdb_pipeline.devtools.bench import reference_loaders

    return reference_loaders.run_step(args.step, Path(args.folder), args.extra)


# ----------------------------------------------------------------------------------------------------
# The parser tree


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="tmdb",
        description="The TMDB warehouse: get the data, stage it, build and test it with dbt, look at it.",
        epilog="Each command's options: tmdb <command> --help. The make targets call these (make help).",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="<command>")

    def add(
        name: str, help_text: str, handler: object, description: str | None = None
    ) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text, description=description or help_text)
        command.set_defaults(handler=handler)
        return command

    def source_option(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--source",
            default="auto",
            help="auto (Kaggle with credentials, else the sample) | sample | kaggle | <dataset folder>",
        )

    def target_option(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--target", default="duckdb", choices=TARGETS, help="dbt target (default duckdb)"
        )

    run = add("run", "stage the data, then build and test the warehouse; print a summary", cmd_run)
    source_option(run)
    target_option(run)
    run.add_argument(
        "--rebuild",
        action="store_true",
        help="build (unit tests included) even when nothing new was staged and nothing changed",
    )
    stage = add("stage", "get the data and stage it into a new batch of the landing zone", cmd_stage)
    source_option(stage)
    stage.add_argument("--landing", help="the landing zone (default: the data folder's landing/)")
    stage.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    stage.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar")
    target_option(
        add("build", "dbt build (every model, snapshot, seed, test) on what was staged last", cmd_build)
    )
    get = add("get", "get the data only (download or generate); print its folder", cmd_get)
    source_option(get)
    get.add_argument("--json", action="store_true", help="answer as one JSON line (for an orchestrator)")

    sample = add("sample", "write the built-in synthetic sample as a dataset folder", cmd_sample)
    where = sample.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="write a dataset folder (movies/movies, series/series) here")
    where.add_argument(
        "--kagglehub-cache", type=Path, help="write into this kagglehub cache (KAGGLEHUB_CACHE)"
    )
    sample.add_argument("--size", default="2000", help="number of movies (series: a quarter), or `full`")
    sample.add_argument("--seed", type=int, default=42)
    sample.add_argument("--version", type=int, choices=(1, 2), default=1, help="2: a later snapshot")
    sample.add_argument("--workers", type=int, default=2)
    sample.add_argument("--force", action="store_true", help="replace --out if it already exists")

    dbt_command = add(
        "dbt",
        "any dbt command, with the dbt packages handled, on the current data folder",
        cmd_dbt,
        "Runs dbt with the data folder staged last (or TMDB_DATA_DIR), its packages installed, mirrored or "
        "left out (then its tests are excluded and listed). E.g. tmdb dbt build -s +mart_ml__movie_features",
    )
    dbt_command.add_argument("dbt_args", nargs=argparse.REMAINDER, help="dbt's own arguments")

    # The steps an orchestrator runs one task at a time (orchestration/airflow/; tmdb_pipeline.orchestration):
    # each answers with one JSON line on standard output.
    for name, help_text, handler in (
        (
            "build-needed",
            "after staging: whether a dbt build would change anything (JSON answer)",
            cmd_build_needed,
        ),
        (
            "record-build",
            "after a green dbt build run by an orchestrator: record it as make run does",
            cmd_record_build,
        ),
        ("publish", "publish the marts of the last green build as Parquet (publish/latest)", cmd_publish),
    ):
        target_option(add(name, help_text, handler))
    render = add(
        "render-dbt", "write what dbt will run (dbt ls JSON) for an orchestrator's graph", cmd_render_dbt
    )
    render.add_argument("--out", type=Path, help="where to write (default target/orchestration)")

    docs = add("docs", "generate the dbt docs site and serve it on localhost", cmd_docs)
    docs.add_argument("--port", type=int, default=8080, help="port (0: any free port; default 8080)")
    docs.add_argument("--host", default="127.0.0.1", help="address to listen on (default: localhost only)")
    docs.add_argument("--docs-dir", type=Path, help="where the site is written (default target/docs)")
    docs.add_argument("--no-generate", action="store_true", help="serve the site already in --docs-dir")
    docs.add_argument("--no-serve", action="store_true", help="generate the site, then exit")
    docs.add_argument(
        "--from-build",
        type=Path,
        metavar="DIR",
        help="the dbt target folder of the build just run: the site takes its manifest (the SQL it ran) and "
        "compiles nothing",
    )

    dashboard = add("dashboard", "serve the dashboard of the published marts on 127.0.0.1", cmd_dashboard)
    dashboard.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    dashboard.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: localhost only; a container listens on 0.0.0.0)",
    )
    dashboard.add_argument(
        "--publish-dir", type=Path, help="a publish folder (holding latest) or one version (default: current)"
    )
    cluster = add(
        "spark-cluster",
        "start, stop or show the local Spark cluster the spark-thrift target builds on",
        cmd_spark_cluster,
        "A standalone Spark master, two workers and a Thrift server on 127.0.0.1, for the data folder staged "
        "last (or TMDB_DATA_DIR); everything under <data dir>/spark-cluster/. docs/spark.md",
    )
    cluster.add_argument("action", choices=("start", "stop", "status"))
    cluster.add_argument(
        "components",
        nargs="*",
        help="stop only these (master, worker-1, worker-2, thrift); start restarts them",
    )
    cluster.add_argument("--kill", action="store_true", help="stop with SIGKILL at once, as a crash would")

    test = add("test", "every quality gate, then one PASS/FAIL line per gate (make test)", cmd_test)
    test.add_argument("--only", help="static (the four static gates) or gate names, comma-separated")
    test.add_argument("--skip", help="gates to leave out, comma-separated (e.g. spark)")

    bench = add("bench", "the full-size benchmark; writes docs/performance.{md,json}", cmd_bench)
    bench.add_argument("--size", default="full", help="`full` (526,000 movies + 94,000 series) or N movies")
    bench.add_argument("--subset", type=int, default=100_000, help="files for the original-loader comparison")
    bench.add_argument(
        "--skip", default="", help="comma-separated steps to leave out (see docs/performance.md)"
    )
    bench.add_argument("--bench-dir", type=Path, help="cache and work folder (default data/bench)")
    bench.add_argument("--report-dir", type=Path, help="where performance.{md,json} go (default docs)")
    bench.add_argument("--keep", action="store_true", help="keep the warehouses and landing zones of the run")
    secrets = add("check-secrets", "refuse committed credentials (the pre-commit hook)", cmd_check_secrets)
    secrets.add_argument("files", nargs="*", help="files to check (default: every file git tracks)")
    step = commands.add_parser("bench-step")  # the benchmark's reference steps, each measured as a process
    step.set_defaults(handler=cmd_bench_step)
    step.add_argument("step", choices=("floor", "original"))
    step.add_argument("folder")
    step.add_argument("extra")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = parser()
    if argv[:1] == ["dbt"]:
        # all after `dbt` is dbt's (`--select`, `--version`, `-h`...), whatever argparse would make of it
        args = top.parse_args(["dbt"])
        args.dbt_args = argv[1:]
    else:
        args = top.parse_args(argv)
    try:
        return int(args.handler(args))
    except UserError as error:
        print(f"\nERROR: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(
            "\nInterrupted. Nothing half-written is visible: the next run picks up from here.",
            file=sys.stderr,
        )
        return 130
