"""`tmdb`: the one command of the project. Every `make` target calls it; `tmdb --help` lists what it does.

The parser tree, and a handler per sub-command that hands the parsed options to the function doing the work
(pipeline.py for run, stage, build and dbt; orchestration.py for an orchestrator's steps; the flow's
subpackages for the rest). The contributors' tooling (gates, benchmark) is not part of it:
`python -m tmdb_devtools` in a checkout, through `make`. A user's mistake ends in a short paragraph saying
what to do (errors.UserError), never a traceback. What the pipeline says on the way is logged, and shown
by one handler (tmdb_pipeline.logs).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tmdb_pipeline import extract, logs, pipeline
from tmdb_pipeline.errors import UserError, storage_failure
from tmdb_pipeline.report.summary import RunSummary, print_summary
from tmdb_pipeline.warehouse.targets import NAMES as TARGETS


def _report(summary: RunSummary) -> int:
    print_summary(summary)
    return 0 if summary.ok else 1


def cmd_run(args: argparse.Namespace) -> int:
    return _report(pipeline.run(args.source, args.target, rebuild=args.rebuild))


def cmd_stage(args: argparse.Namespace) -> int:
    return _report(
        pipeline.stage(args.source, landing=args.landing, workers=args.workers, progress=args.progress)
    )


def cmd_build(args: argparse.Namespace) -> int:
    return _report(pipeline.build(args.target))


def cmd_get(args: argparse.Namespace) -> int:
    from tmdb_pipeline import orchestration

    if args.json_answer:
        return orchestration.answer(orchestration.get(args.source))
    dataset = extract.resolve_source(args.source)
    print(f"{dataset.label}: {dataset.path}")
    return 0


def cmd_build_needed(args: argparse.Namespace) -> int:
    from tmdb_pipeline import orchestration

    return orchestration.answer(orchestration.build_needed(args.target))


def cmd_record_build(args: argparse.Namespace) -> int:
    from tmdb_pipeline import orchestration

    return orchestration.answer(orchestration.record_build(args.target))


def cmd_publish(args: argparse.Namespace) -> int:
    from tmdb_pipeline import orchestration

    return orchestration.answer(orchestration.publish_last_green_build(args.target))


def cmd_render_dbt(args: argparse.Namespace) -> int:
    from tmdb_pipeline import orchestration

    return orchestration.answer(orchestration.render_dbt(args.out))


def cmd_sample(args: argparse.Namespace) -> int:
    from tmdb_pipeline.extract import sample

    sample.write(
        args.size,
        seed=args.seed,
        version=args.version,
        out=args.out,
        kagglehub_cache=args.kagglehub_cache,
        workers=args.workers,
        force=args.force,
    )
    return 0


def cmd_dbt(args: argparse.Namespace) -> int:
    return pipeline.dbt_command(args.dbt_args)


def cmd_docs(args: argparse.Namespace) -> int:
    from tmdb_pipeline.warehouse import docs_site

    return docs_site.command(
        args.docs_dir,
        host=args.host,
        port=args.port,
        generate_site=not args.no_generate,
        serve_site=not args.no_serve,
        from_build=args.from_build,
    )


def cmd_dashboard(args: argparse.Namespace) -> int:
    from tmdb_pipeline.report import dashboard

    return dashboard.serve(args.port, args.publish_dir, host=args.host)


def cmd_ml(args: argparse.Namespace) -> int:
    outcome = pipeline.train(args.publish_dir)
    if args.json_answer:
        from tmdb_pipeline import orchestration

        return orchestration.answer(orchestration.model_answer(outcome))
    print(f"Model         {outcome.line()}", flush=True)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    if args.action == "record":  # answers an orchestrator: its messages go to stderr
        from tmdb_pipeline import orchestration

        logs.configure("stderr")
        return orchestration.answer(
            orchestration.record_history(args.target, args.target_dir, args.origin, freshness=args.freshness)
        )
    if args.action == "rebuild":
        pipeline.rebuild_history()
        return 0
    pipeline.clear_history(confirmed=args.yes)
    return 0


def cmd_spark_cluster(args: argparse.Namespace) -> int:
    from tmdb_pipeline.warehouse.spark_cluster import command

    return command(args.action, args.components, kill=args.kill)


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
        name: str,
        help_text: str,
        handler: object,
        description: str | None = None,
        *,
        json_answer: bool = False,
    ) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text, description=description or help_text)
        # json_answer: the command answers with one JSON line on stdout, so what it logs goes to stderr
        command.set_defaults(handler=handler, json_answer=json_answer)
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
    get.add_argument(
        "--json",
        dest="json_answer",
        action="store_true",
        help="answer as one JSON line (for an orchestrator)",
    )

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
        target_option(add(name, help_text, handler, json_answer=True))
    render = add(
        "render-dbt",
        "write what dbt will run (dbt ls JSON) for an orchestrator's graph",
        cmd_render_dbt,
        json_answer=True,
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
    ml_command = add(
        "ml",
        "train the box-office model on the published marts; publish it when it beats the mean baseline",
        cmd_ml,
        "Reads the published ML mart (never the warehouse file), splits by release date, trains a mean "
        "baseline, a budget-only linear model and gradient boosting, tracks the run in MLflow "
        "(<data dir>/mlflow) and publishes model card + predictions to <data dir>/ml/latest. docs/ml.md",
    )
    ml_command.add_argument(
        "--publish-dir", type=Path, help="a publish folder (holding latest) or one version (default: current)"
    )
    ml_command.add_argument(
        "--json",
        dest="json_answer",
        action="store_true",
        help="answer as one JSON line (for an orchestrator)",
    )
    history = add(
        "history",
        "the run history: record a run from dbt's artifacts, rebuild a damaged history, or clear it",
        cmd_history,
        "Every run is recorded after it (make run, tmdb build, the DAG's record_history task) in <data dir>/"
        "history/, one folder per dbt invocation. record: a run whose dbt ran elsewhere (the DAG); rebuild:"
        " set aside what cannot be read, keep every other run; clear: delete it all. docs/monitoring.md",
    )
    history.add_argument("action", choices=("record", "rebuild", "clear"))
    target_option(history)
    history.add_argument("--target-dir", type=Path, help="record: dbt's target folder of the run")
    history.add_argument("--origin", default="tmdb history record", help="record: who ran it (airflow, ...)")
    history.add_argument(
        "--freshness",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="record: run `dbt source freshness` first (default yes)",
    )
    history.add_argument("--yes", action="store_true", help="clear: yes, delete the whole history")
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
    logs.configure("stderr" if args.json_answer else "stdout")
    try:
        return int(args.handler(args))
    except UserError as error:
        print(f"\nERROR: {error}", file=sys.stderr)
        return error.exit_code
    except Exception as error:
        # a write the filesystem refused (full, read-only), however it surfaced: OSError, DuckDB, MLflow
        if (said := storage_failure(error)) is None:
            raise
        print(f"\nERROR: {said}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "\nInterrupted. Nothing half-written is visible: the next run picks up from here.",
            file=sys.stderr,
        )
        return 130
