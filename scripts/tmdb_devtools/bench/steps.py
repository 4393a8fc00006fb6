"""The benchmark's steps, each run as a command of its own and measured (devtools.bench.measuring).

Every step runs as its own process tree, measured from the outside: wall time, CPU time (user + sys of the
whole tree, from the kernel's accounting of reaped children) and peak RSS of the whole tree (the RSS of
every process in it summed, sampled every 50 ms). The dataset comes from the built-in generator
(tmdb_pipeline.extract.sample), is generated once per size and cached under data/bench/. Steps:

  floor           Python reading every file's bytes (2 processes): what any loader must at least spend
  original        the original loader on a subset: json.load + pandas.json_normalize per file, concat,
                  one DuckDB table
  subset_stage    ours on the same subset: stage ...
  subset_raw      ... and load the raw layer (`dbt build -s raw`)
  dbt_parse       dbt parsing the project once, cold (not part of any target; later steps parse partially)
  stage           stage the full dataset into a fresh landing zone
  raw_load        `dbt build -s raw` on it
  dbt_build       the full `dbt build` (every model, every test): a fresh warehouse, the same landing zone
  make_run        `tmdb run --source <folder>` on a fresh data folder: files to tested marts, then the model
  ml_train        `tmdb ml` on make_run's published set: the model's share of make_run (read, train,
                  evaluate, track in MLflow, publish), as a process of its own
  history         recording make_run's run into the run history once more, as make_run's last step did (its
                  record set aside first): the artifacts read, every table's rows, the checks, the write,
                  the published snapshot and the metrics file (tmdb_pipeline.monitoring)
  rerun_noop      the same command again, nothing new
  incremental     again after adding 1 % new files and changing 0.5 % of the existing ones
  full_rebuild    `tmdb run` on the final input in a fresh data folder; then every core and mart table
                  of the incremental warehouse is compared with the rebuild's (order-independent checksums)
  make_test       `make test`'s eight gates (not the dashboard, airflow, containers and faults ones) in a
                  fresh clone of the committed tree, the venv made from the lock files: what CI waits for
  faults          the fault campaign (tmdb_devtools.faults: 100 faults at random moments of whole runs on a
                  slice of the real sample), its seeds and results in <report dir>/results/faults.json

    python -m tmdb_devtools bench [--size full|N] [--subset 100000] [--skip original,...]
                                  [--report-dir docs] [--keep]
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tmdb_devtools import checksums
from tmdb_devtools.bench.dataset import (
    apply_changes,
    dataset_files,
    ensure_dataset,
    link_tree,
    subset_names,
)
from tmdb_devtools.bench.measuring import BenchError, Step, measure
from tmdb_devtools.bench.report import print_comparison
from tmdb_pipeline import locks
from tmdb_pipeline.project import project
from tmdb_pipeline.workspace import DataRoot

STEPS = (
    "floor",
    "original",
    "subset_stage",
    "subset_raw",
    "dbt_parse",
    "stage",
    "raw_load",
    "dbt_build",
    "make_run",
    "ml_train",
    "history",
    "rerun_noop",
    "incremental",
    "full_rebuild",
    "make_test",
    "faults",
)
# The gates make_test times: the eight of the speed goal (the dashboard, airflow and containers gates state
# their own times; the faults campaign is a step of its own, below).
MAKE_TEST_SKIPS = "dashboard,airflow,containers,faults"
GATE_LINE = re.compile(r"^(PASS|FAIL)  (.+?) +(\d+\.\d) s", re.MULTILINE)
# The raw layer and its own tests; "cautious" leaves out tests that also read a later layer not built here.
RAW_LOAD = ("dbt", "build", "--select", "raw", "--indirect-selection", "cautious")


@dataclass
class Context:
    size: str
    bench_dir: Path
    report_dir: Path
    subset: int
    skip: set[str]
    steps: list[Step] = field(default_factory=list)
    log_dir: Path = Path()
    announce: Callable[[str], None] = print

    @property
    def runs_dir(self) -> Path:
        """Landing zones and warehouses of this run (one folder per size)."""
        return self.bench_dir / f"runs-{self.size}"

    @property
    def lock_file(self) -> Path:
        return self.bench_dir / f".bench-{self.size}.lock"


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TMDB_DATA_DIR", "TMDB_LANDING_DIR", "TMDB_DUCKDB_PATH", "TMDB_DATA_ROOT")
    }
    env.update(extra)
    return env


def _warm_parse(command: list[str], env: dict[str, str]) -> None:
    """Save dbt's parse for this environment, unmeasured, so that the next dbt step parses partially."""
    done = subprocess.run(command, cwd=project().root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
        raise BenchError(f"dbt parse failed before the subset's raw load:\n{tail}")


def _data_dir_of(root: Path) -> Path:
    found = [p for p in root.glob("folder-*") if p.is_dir()]
    if len(found) != 1:
        raise BenchError(f"Expected one data folder under {root}, found {len(found)}: {found}")
    return found[0]


def _remove_warehouse(runs: Path) -> None:
    """The warehouse, its write-ahead log and DuckDB's spill folder (`.tmp`), which a killed build leaves."""
    for leftover in runs.glob("tmdb.duckdb*"):
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()


def _fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def run(ctx: Context) -> tuple[bool, dict[str, Any]]:
    """Run every step not skipped; returns (all steps passed and results identical, comparison)."""
    pipeline = [sys.executable, "-m", "tmdb_pipeline"]
    internal = [sys.executable, "-m", "tmdb_devtools", "bench-step"]
    runs = ctx.runs_dir
    ctx.log_dir = ctx.bench_dir / "logs"
    # Every step of ours uses the same data root and warehouse path: dbt's partial parsing is invalidated when
    # the warehouse path changes, which a user re-running on the same data never sees. The one cold parse
    # is measured on its own (dbt_parse).
    root, warehouse = runs / "data", runs / "tmdb.duckdb"
    ours = {
        "TMDB_DATA_ROOT": str(root),
        "TMDB_DUCKDB_PATH": str(warehouse),
        "DBT_TARGET_PATH": str(ctx.bench_dir / "target"),
        "DBT_LOG_PATH": str(ctx.log_dir / "dbt"),
    }
    py_env = _env()
    comparison: dict[str, Any] = {}

    def fresh_data() -> dict[str, str]:
        _fresh(root)
        _remove_warehouse(runs)
        return _env(**ours)

    def record(step: Step) -> Step:
        ctx.steps.append(step)
        flag = "" if step.ok else "  FAILED: " + step.note
        ctx.announce(
            f"  {step.name:<13} {step.files:>9,} files {step.wall_s:>9.2f} s wall {step.cpu_s:>9.2f} s CPU "
            f"{step.peak_rss_mb:>7.0f} MiB peak RSS ({step.peak_pss_mb:.0f} PSS){flag}"
        )
        return step

    def wanted(name: str) -> bool:
        return name not in ctx.skip

    dataset, spec = ensure_dataset(ctx.size, ctx.bench_dir, ctx.announce)
    names = dataset_files(dataset)
    total = sum(len(v) for v in names.values())
    work = ctx.bench_dir / f"work-{ctx.size}"
    ctx.announce(f"Work copy: hard links to the dataset in {work}")
    link_tree(dataset, work)
    subset = subset_names(names, ctx.subset)
    n_subset = sum(len(v) for v in subset.values())
    subset_dir = ctx.bench_dir / f"subset-{n_subset}-of-{ctx.size}"
    if {"original", "subset_stage", "subset_raw"} - ctx.skip:
        link_tree(dataset, subset_dir, subset)
    runs.mkdir(parents=True, exist_ok=True)

    # Every step is to find the files in the page cache, the first one included: a cold first read would
    # make the floor slow and every ratio to it flattering. The work copies are hard links to the same inodes.
    ctx.announce("Warming the page cache: reading every file once (not measured) ...")
    subprocess.run([*internal, "floor", str(dataset), "2"], env=py_env, check=True, stdout=subprocess.DEVNULL)
    ctx.announce("Steps (warm page cache; each one a process tree measured from outside):")
    if wanted("dbt_parse"):
        shutil.rmtree(ctx.bench_dir / "target", ignore_errors=True)
        # with the data folder the later steps use: dbt re-parses the files whose env_var() values changed
        env = {**fresh_data(), "TMDB_DATA_DIR": str(DataRoot(root).for_source("folder", work).root)}
        record(measure("dbt_parse", [*pipeline, "dbt", "parse"], files=0, log_dir=ctx.log_dir, env=env))
    if wanted("floor"):
        record(
            measure(
                "floor", [*internal, "floor", str(dataset), "2"], files=total, log_dir=ctx.log_dir, env=py_env
            )
        )
    if wanted("original"):
        db = runs / "original.duckdb"
        db.unlink(missing_ok=True)
        record(measure("original", [*internal, "original", str(subset_dir), str(db)], files=n_subset,
                       log_dir=ctx.log_dir, env=py_env, check=False))  # fmt: skip
        db.unlink(missing_ok=True)
    if wanted("subset_stage"):
        # The subset has its own data folder, so its own dbt state (target dir). Sharing one would make dbt
        # re-parse fully on every switch between the subset and the full data (the profile reads the data
        # folder), a cost someone re-running on one dataset never pays. Like every other dbt step of ours,
        # subset_raw starts from a saved parse made beforehand, unmeasured, with its environment.
        env = {**fresh_data(), "DBT_TARGET_PATH": str(ctx.bench_dir / "target-subset")}
        record(measure("subset_stage", [*pipeline, "stage", "--source", str(subset_dir)], files=n_subset,
                       log_dir=ctx.log_dir, env=env))  # fmt: skip
        if wanted("subset_raw"):
            env["TMDB_DATA_DIR"] = str(_data_dir_of(root))
            _warm_parse([*pipeline, "dbt", "parse"], env)
            record(measure("subset_raw", [*pipeline, *RAW_LOAD], files=n_subset, log_dir=ctx.log_dir, env=env,
                           check=False))  # fmt: skip

    if wanted("stage"):
        env = fresh_data()
        record(measure("stage", [*pipeline, "stage", "--source", str(work)], files=total, log_dir=ctx.log_dir,
                       env=env))  # fmt: skip
        env["TMDB_DATA_DIR"] = str(_data_dir_of(root))
        if wanted("raw_load"):
            record(measure("raw_load", [*pipeline, *RAW_LOAD], files=total, log_dir=ctx.log_dir, env=env,
                           check=False))  # fmt: skip
        if wanted("dbt_build"):
            _remove_warehouse(runs)  # a fresh warehouse over the same landing zone
            record(measure("dbt_build", [*pipeline, "build"], files=total, log_dir=ctx.log_dir, env=env,
                           check=False))  # fmt: skip

    if wanted("make_run"):
        env = fresh_data()
        command = [*pipeline, "run", "--source", str(work)]
        record(measure("make_run", command, files=total, log_dir=ctx.log_dir, env=env, check=False))
        if wanted("ml_train"):
            record(ml_train(pipeline, root, ctx, env))
        if wanted("history"):
            record(history_step(ctx, root, env, files=total))
        if wanted("rerun_noop"):
            record(measure("rerun_noop", command, files=total, log_dir=ctx.log_dir, env=env, check=False))
        if wanted("incremental"):
            new, changed = apply_changes(work, spec)
            ctx.announce(f"  (added {new:,} new files and changed {changed:,} existing ones in {work})")
            step = record(measure("incremental", command, files=new + changed, log_dir=ctx.log_dir, env=env,
                                  check=False))  # fmt: skip
            step.note = step.note or f"{new:,} new + {changed:,} changed files, {total + new:,} in all"
            if wanted("full_rebuild"):
                # kept under its own name in a folder of its own: dbt's views name the warehouse's catalog,
                # which DuckDB takes from the file name
                kept = _fresh(runs / "incremental") / warehouse.name
                warehouse.rename(kept)
                env = fresh_data()
                record(measure("full_rebuild", command, files=total + new, log_dir=ctx.log_dir, env=env,
                               check=False))  # fmt: skip
                identical, rows = checksums.compare(
                    checksums.table_checksums(kept), checksums.table_checksums(warehouse)
                )
                comparison = {"identical": identical, "tables": rows}
                print_comparison(comparison, ctx.announce)
    if wanted("make_test"):
        record(make_test(ctx))
    if wanted("faults"):
        results = ctx.report_dir / "results" / "faults.json"
        command = [sys.executable, "-m", "tmdb_devtools", "faults", "--count", "100", "--out", str(results)]
        record(measure("faults", command, files=0, log_dir=ctx.log_dir, env=py_env, check=False))
    ok = all(s.ok for s in ctx.steps) and comparison.get("identical", True)
    return ok, comparison


def ml_train(pipeline: list[str], root: Path, ctx: Context, env: dict[str, str]) -> Step:
    """`tmdb ml` on the published set make_run left: what training adds to a run at this size. The note says
    how many movies it trained and tested on (the model card of the data folder)."""
    data_dir = _data_dir_of(root)
    step = measure("ml_train", [*pipeline, "ml"], files=0, log_dir=ctx.log_dir,
                   env={**env, "TMDB_DATA_DIR": str(data_dir)}, check=False)  # fmt: skip
    card = data_dir / "ml" / "latest" / "model_card.json"
    if card.is_file():
        rows = json.loads(card.read_text(encoding="utf-8"))["rows"]
        note = (
            f"{rows['train']:,} train + {rows['test']:,} test movies,"
            f" {rows['unlabelled_predicted']:,} predicted"
        )
        step.note = "; ".join(n for n in (step.note, note) if n)
    return step


def history_step(ctx: Context, root: Path, env: dict[str, str], files: int) -> Step:
    """make_run's run recorded again, on its own: its record is moved aside first (a record already there
    makes recording it a no-op), so the step does all make_run's last step did, bar `dbt source freshness`
    (a dbt command of its own, timed in the run's summary)."""
    data_dir = _data_dir_of(root)
    history = data_dir / "history"
    if history.exists():
        history.rename(_fresh(ctx.runs_dir / "history-of-make_run") / "history")
    target = Path(env.get("DBT_TARGET_PATH") or project().target_dir)
    command = [sys.executable, "-m", "tmdb_pipeline", "history", "record", "--no-freshness",
               "--target-dir", str(target)]  # fmt: skip
    step_env = {**env, "TMDB_DATA_DIR": str(data_dir)}
    return measure("history", command, files=files, log_dir=ctx.log_dir, env=step_env, check=False)


def make_test(ctx: Context) -> Step:
    """`make test` in a fresh clone of the committed tree, as CI runs it: the venv made from the lock files
    (pip's download cache helps, as on CI), then the gates. The note lists each gate's time."""
    clone = ctx.bench_dir / "make-test-clone"
    shutil.rmtree(clone, ignore_errors=True)
    script = (
        f"git clone --quiet {shlex.quote(str(project().root))} {shlex.quote(str(clone))} && "
        f"make -C {shlex.quote(str(clone))} test SKIP_GATES={MAKE_TEST_SKIPS}"
    )
    env = {k: v for k, v in _env().items() if k not in ("TMDB_PROJECT_DIR", "VIRTUAL_ENV")}
    step = measure("make_test", ["bash", "-c", script], files=0, log_dir=ctx.log_dir, env=env, check=False)
    log = (ctx.log_dir / "make_test.log").read_text(encoding="utf-8", errors="replace")
    # a gate run beside the others prints its line twice (its own summary, then the final one): last wins
    times = {name: seconds for _, name, seconds in GATE_LINE.findall(log)}
    gates = ", ".join(f"{name} {seconds} s" for name, seconds in times.items())
    step.note = "; ".join(n for n in (step.note, f"fresh clone, gates but {MAKE_TEST_SKIPS}: {gates}") if n)
    shutil.rmtree(clone, ignore_errors=True)
    return step


@contextmanager
def bench_lock(ctx: Context) -> Iterator[None]:
    """One benchmark per size and bench folder at a time: runs share the work copy and the runs folder."""
    ctx.bench_dir.mkdir(parents=True, exist_ok=True)
    with locks.exclusive(
        ctx.lock_file,
        what=f"The benchmark of size {ctx.size} in {ctx.bench_dir}",
        advice="Wait for it to finish, or stop it, then run again.",
    ):
        yield
