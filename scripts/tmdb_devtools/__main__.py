"""`python -m tmdb_devtools <command>`: the contributors' commands, which `make test`, `make lint`,
`make bench`, `make figures` and the pre-commit hooks call. One parser tree, like `tmdb`'s."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tmdb_pipeline import logs
from tmdb_pipeline.errors import UserError


def cmd_test(args: argparse.Namespace) -> int:
    from tmdb_devtools import gates

    return gates.run_gates(args.only, args.skip, args.also)


def cmd_bench(args: argparse.Namespace) -> int:
    from tmdb_devtools import bench

    return bench.run_benchmark(args)


def cmd_figures(args: argparse.Namespace) -> int:
    import logging

    from tmdb_devtools import figures
    from tmdb_pipeline.project import project

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return figures.run(project().root, args.check)


def cmd_bench_growth(args: argparse.Namespace) -> int:
    from tmdb_devtools.bench import growth
    from tmdb_pipeline.extract.sample import FULL_MOVIES, FULL_SERIES
    from tmdb_pipeline.project import project

    try:
        factors = [float(f) for f in args.factors.split(",") if f.strip()]
    except ValueError:
        factors = []
    if not factors or min(factors) <= 0:
        raise UserError(f"--factors {args.factors!r}: give positive numbers, comma-separated (0.25,1,2,4).")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - {"rerun_noop", "incremental", "dashboard", "dag"}
    if unknown:
        raise UserError(f"--skip {', '.join(sorted(unknown))}: use rerun_noop, incremental, dashboard, dag.")
    root = project().root
    return growth.run_growth(
        growth.GrowthContext(
            base_movies=args.base_movies or FULL_MOVIES,
            base_series=args.base_series or FULL_SERIES,
            factors=factors,
            bench_dir=(args.bench_dir or root / "data" / "bench").resolve(),
            report_dir=(args.report_dir or root / "docs").resolve(),
            skip=skip,
        )
    )


def cmd_check_secrets(args: argparse.Namespace) -> int:
    from tmdb_devtools import secrets

    return secrets.check(args.files)


def cmd_ml_report(args: argparse.Namespace) -> int:
    from tmdb_devtools import ml_report

    return ml_report.run(args.source)


def cmd_bench_step(args: argparse.Namespace) -> int:
    from tmdb_devtools.bench import reference_loaders

    return reference_loaders.run_step(args.step, Path(args.folder), args.extra)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m tmdb_devtools",
        description="The contributors' tooling: quality gates, benchmark, credential check (make help).",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="<command>")

    test = commands.add_parser(
        "test", help="every quality gate, then one PASS/FAIL line per gate (make test)"
    )
    test.set_defaults(handler=cmd_test)
    test.add_argument("--only", help="static (the four static gates) or gate names, comma-separated")
    test.add_argument("--skip", help="gates to leave out, comma-separated (e.g. spark)")
    test.add_argument("--with", dest="also", help="opt-in gates to run as well (spark-cluster)")

    bench = commands.add_parser("bench", help="the full-size benchmark; writes docs/performance.{md,json}")
    bench.set_defaults(handler=cmd_bench)
    bench.add_argument("--size", default="full", help="`full` (526,000 movies + 94,000 series) or N movies")
    bench.add_argument("--subset", type=int, default=100_000, help="files for the original-loader comparison")
    bench.add_argument(
        "--skip", default="", help="comma-separated steps to leave out (see docs/performance.md)"
    )
    bench.add_argument("--bench-dir", type=Path, help="cache and work folder (default data/bench)")
    bench.add_argument("--report-dir", type=Path, help="where performance.{md,json} go (default docs)")
    bench.add_argument("--keep", action="store_true", help="keep the warehouses and landing zones of the run")

    figures = commands.add_parser(
        "figures", help="render the docs' measured figures from the results files (make figures)"
    )
    figures.set_defaults(handler=cmd_figures)
    figures.add_argument("--check", action="store_true", help="render nothing; exit 1 when a block is stale")

    report = commands.add_parser(
        "ml-report", help="the model's figures on a real dataset into docs/results and docs/ml.md"
    )
    report.set_defaults(handler=cmd_ml_report)
    report.add_argument("--source", help="a real dataset folder (make ml-report REAL_SAMPLE=...)")

    growth = commands.add_parser(
        "bench-growth",
        help="make run at a quarter, one, two and four times the full dataset (make bench-growth)",
    )
    growth.set_defaults(handler=cmd_bench_growth)
    growth.add_argument("--factors", default="0.25,1,2,4", help="sizes, as multiples of the full dataset")
    growth.add_argument("--base-movies", type=int, help="movies at 1x (default: the full dataset's)")
    growth.add_argument("--base-series", type=int, help="series at 1x (default: the full dataset's)")
    growth.add_argument("--skip", default="", help="leave out: rerun_noop, incremental, dashboard, dag")
    growth.add_argument("--bench-dir", type=Path, help="cache and work folder (default data/bench)")
    growth.add_argument("--report-dir", type=Path, help="where results/growth.json and images/ go (docs)")

    secrets = commands.add_parser("check-secrets", help="refuse committed credentials (the pre-commit hook)")
    secrets.set_defaults(handler=cmd_check_secrets)
    secrets.add_argument("files", nargs="*", help="files to check (default: every file git tracks)")

    # the fault campaign (make faults): its options live with it
    from tmdb_devtools.faults.command import add_command as add_faults

    add_faults(commands)

    # the benchmark's reference steps, each measured as a process of its own
    step = commands.add_parser("bench-step")
    step.set_defaults(handler=cmd_bench_step)
    step.add_argument("step", choices=("floor", "original"))
    step.add_argument("folder")
    step.add_argument("extra")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    logs.configure("stdout")  # what the pipeline's code says when a gate calls it, between the gates' lines
    try:
        return int(args.handler(args))
    except UserError as error:
        print(f"\nERROR: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
