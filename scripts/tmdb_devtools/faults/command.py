"""`python -m tmdb_devtools faults`: its options and what it does with them."""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

from tmdb_devtools.faults.sandbox import Slice
from tmdb_pipeline.errors import UserError

log = logging.getLogger(__name__)


def real_sample_default() -> Path:
    from tmdb_pipeline.project import project

    default = project().root.parent / "shared" / "data" / "tmdb-real-sample" / "versions" / "1"
    return Path(os.environ.get("TMDB_REAL_SAMPLE", default))


def add_command(commands: Any) -> None:
    faults = commands.add_parser(
        "faults", help="the fault campaign: random faults over whole runs, invariants checked (make faults)"
    )
    faults.set_defaults(handler=run)
    faults.add_argument(
        "--count",
        type=int,
        default=100,
        help="faults to inject (default 100); one whose run ends before its moment is drawn again",
    )
    faults.add_argument("--seed", type=int, help="the campaign's seed (default: a random one, logged)")
    faults.add_argument(
        "--replay", type=int, action="append", default=[], help="replay the fault of this seed (repeatable)"
    )
    faults.add_argument(
        "--real-sample",
        type=Path,
        default=real_sample_default(),
        help="the real sample's dataset folder, the slice's source (default TMDB_REAL_SAMPLE, else the one "
        "beside the checkout: ../shared/data/tmdb-real-sample/versions/1)",
    )
    faults.add_argument(
        "--movies",
        type=int,
        default=Slice.movies,
        help="movies of the first run's slice (the default is enough for the model to train: ~320 of them"
        " have a known revenue)",
    )
    faults.add_argument("--series", type=int, default=60, help="series of the first run's slice")
    faults.add_argument("--new-movies", type=int, default=40, help="movies added for the second run")
    faults.add_argument("--new-series", type=int, default=10, help="series added for the second run")
    faults.add_argument("--changed", type=int, default=30, help="first-run movies changed for the second")
    faults.add_argument("--out", type=Path, default=Path("docs/results/faults.json"), help="results file")
    faults.add_argument("--work", type=Path, help="work folder (default: a new temporary folder)")
    faults.add_argument("--keep", action="store_true", help="keep the work folder (every run's output)")


def run(args: argparse.Namespace) -> int:
    from tmdb_devtools.faults.campaign import run_campaign

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if not (args.real_sample / "movies" / "movies").is_dir():
        raise UserError(
            f"{args.real_sample} is not a dataset folder (movies/movies, series/series): the campaign runs "
            "on a slice of the real sample, which is not in the repository. Pass --real-sample <folder>."
        )
    # a campaign stopped with SIGTERM unwinds as with Ctrl-C: its run killed, its mounts undone
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    log.info("campaign seed %s (replay the whole campaign with --seed %s)", seed, seed)
    spec = Slice(args.movies, args.series, args.new_movies, args.new_series, args.changed)
    work = args.work or Path(tempfile.mkdtemp(prefix="tmdb-faults-"))
    results = run_campaign(
        count=args.count,
        seed=seed,
        replay=args.replay,
        work=work,
        real_sample=args.real_sample.resolve(),
        out=args.out,
        spec=spec,
    )
    log.info(
        "%s faults at random moments, %s kinds, %s invariants broken (seed %s; %.0f s; results in %s)",
        results["faults"],
        len(results["kinds"]),
        results["broken"],
        seed,
        results["wall_s"],
        args.out,
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if results["broken"] == 0 and results["faults"] > 0 else 1
