"""`make bench` (`python -m tmdb_devtools bench`): the pipeline from files to tested marts, timed at full size
against a byte-read floor and the original loader, with the incremental result checked against a full rebuild.

Modules: `measuring` (a process tree, from outside), `dataset` (the generated data and its changes),
`reference_loaders` (the floor and the original loader), `steps` (the run), `report` (targets, tables, the
docs). Results go to docs/performance.{md,json}.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from tmdb_devtools.bench.measuring import machine_info
from tmdb_devtools.bench.report import evaluate_targets, print_table, ratios, write_reports
from tmdb_devtools.bench.steps import STEPS, Context, bench_lock, run
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.extract import sample
from tmdb_pipeline.project import project

INSTALL_HINT = "make venv-bench (or: .venv/bin/pip install --require-hashes -r requirements/bench.txt)"


def run_benchmark(args: argparse.Namespace) -> int:
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - set(STEPS)
    if unknown:
        raise UserError(f"Unknown step(s) to skip: {', '.join(sorted(unknown))}. Steps: {', '.join(STEPS)}.")
    missing = [name for name in ("pandas", "psutil") if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(
            f"The benchmark needs {', '.join(missing)} (its extra is missing): run `{INSTALL_HINT}`."
        )
    size = "full" if str(args.size).lower() == "full" else str(sample.parse_size(args.size)[0])
    report_dir = args.report_dir or project().root / "docs"
    ctx = Context(
        size=size,
        bench_dir=(args.bench_dir or project().root / "data" / "bench").resolve(),
        report_dir=report_dir,
        subset=args.subset,
        skip=skip,
    )
    machine = machine_info()
    with bench_lock(ctx):
        ok, comparison = run(ctx)
    result: dict[str, Any] = {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "size": size,
        "machine": machine,
        "steps": [asdict(s) for s in ctx.steps],
        "skipped": [name for name in STEPS if name in skip],
    }
    result["ratios"] = ratios(ctx.steps)
    identical = comparison.get("identical") if comparison else None
    result["targets"] = evaluate_targets(ctx.steps, result["ratios"], identical)
    result["comparison"] = comparison
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print_table(result)
    write_reports(result, report_dir)
    print(f"\nWrote {report_dir / 'performance.json'} and {report_dir / 'performance.md'}.")
    if not args.keep:
        shutil.rmtree(ctx.runs_dir, ignore_errors=True)
    if not ok:
        print("\nBENCHMARK FAILED: a step failed, or the incremental result differs from the rebuild.")
    return 0 if ok else 1
