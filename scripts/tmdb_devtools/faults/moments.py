"""The moments of a run, and which one a fault hits.

A run's progress is read from what it leaves on disk, its on-disk contract, never from its code: the landing
zone's `.tmp/` (staging), dbt's log (each node as it begins, so each layer of the build; then its closing
lines: `dbt-end` is dbt finishing and the green build being recorded), `publish/.tmp-*` (publishing, until
`latest` changes; `summary` is what follows), and, for the steps after publishing, the folders they write
or, for a step that writes only as it ends (training the model), the line the run prints as it begins.
Steps only move forward. Steps that a run does not have (an ML step, a run history, before they exist) are
never seen: the campaign aims only at the steps its clean runs showed.

A fault is drawn from its seed alone (`Fault.from_seed`): which run (the first, from an empty data root, or
the second, with new and changed files), which kind, which step, where in the step (a fraction of the step's
length in the clean run) and, for a stop, for how long. So `--replay SEED` hits the same step at the same
fraction; how many milliseconds that is depends on the machine's load, which no seed fixes.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tmdb_pipeline.ml import TRAINING_BEGINS

KINDS = ("sigkill", "disk-full", "read-only", "sigstop")
PHASES = ("first", "second")
# In run order. `dbt-*`: the layer of the node dbt began last (its tests run beside it).
STEPS = (
    "get",
    "stage",
    "dbt-parse",
    "dbt-seed",
    "dbt-raw",
    "dbt-staging",
    "dbt-snapshot",
    "dbt-intermediate",
    "dbt-core",
    "dbt-marts",
    "dbt-end",
    "publish",
    "summary",
    "history",
    "ml",
)
# Steps after publishing, seen when a folder of theirs is written under the data folder during the run
# (the names their authors chose, or are likely to: add to the tuple when a step is given another).
LATE_STEP_FOLDERS = {
    "history": ("history", "run-history", "runs"),
    "ml": ("ml", "mlflow", "mlruns", "models"),
}
# ... and the line of the run's output that says a late step began
LATE_STEP_LINES = {"ml": re.compile("^" + re.escape(TRAINING_BEGINS), re.MULTILINE)}
NODE_BEGAN = re.compile(r"Began running node (\w+)\.(\w+)\.(\w+)")
DBT_DONE = re.compile(r"Finished running \d+|Completed successfully|Completed with \d+ error")
LAYER_PREFIXES = (
    ("raw_", "dbt-raw"),
    ("stg_", "dbt-staging"),
    ("int_", "dbt-intermediate"),
    ("dim_", "dbt-core"),
    ("fct_", "dbt-core"),
    ("bridge_", "dbt-core"),
    ("mart_", "dbt-marts"),
)


def layer_of(resource: str, name: str) -> str | None:
    if resource == "seed":
        return "dbt-seed"
    if resource == "snapshot":
        return "dbt-snapshot"
    if resource in ("model", "unit_test"):
        return next((step for prefix, step in LAYER_PREFIXES if name.startswith(prefix)), None)
    return None  # a data test runs beside its model's layer


class Progress:
    """Which step a running `tmdb run` is in, from the files it writes, and how long it has spent in each.
    Call `poll()` often. The run moves forward through get, stage, dbt, publish and the late steps; within
    dbt the step is the layer of the node begun last, which goes back and forth (dbt runs a node as soon as
    its parents are built: an audit mart right after staging, say)."""

    def __init__(self, data_root: Path, dbt_log: Path, output: Path | None = None) -> None:
        self.data_root = data_root
        self.dbt_log = dbt_log
        self.log_offset = dbt_log.stat().st_size if dbt_log.exists() else 0
        self.log_inode = dbt_log.stat().st_ino if dbt_log.exists() else None
        self.partial = b""
        self.output = output  # the run's own output, read whole at each poll once dbt is done (it is short)
        self.started = time.monotonic()
        self.last_poll = self.started
        self.step = "get"
        self.time_in: dict[str, float] = {"get": 0.0}
        self.latest_at_start = self._latest()
        self.stage_seen = False
        self.dbt_done = False

    def _latest(self) -> str | None:
        for link in self.data_root.glob("*/publish/latest"):
            try:
                return str(link.readlink())
            except OSError:
                return None
        return None

    def _move(self, step: str) -> None:
        """Forward only, except between dbt's layers."""
        here, there = STEPS.index(self.step), STEPS.index(step)
        within_dbt = self.step.startswith("dbt-") and step.startswith("dbt-") and step != "dbt-parse"
        if there > here or (within_dbt and there != here):
            self.step = step
            self.time_in.setdefault(step, 0.0)

    def _new_log_lines(self) -> list[str]:
        try:
            with open(self.dbt_log, "rb") as handle:
                # dbt rotates its log (dbt.log -> dbt.log.1) once it is large: a new file is this run's alone
                inode = os.fstat(handle.fileno()).st_ino
                if inode != self.log_inode:
                    self.log_inode, self.log_offset, self.partial = inode, 0, b""
                handle.seek(self.log_offset)
                chunk = handle.read()
        except OSError:
            return []
        self.log_offset += len(chunk)
        lines = (self.partial + chunk).split(b"\n")
        self.partial = lines.pop()
        return [line.decode(errors="replace") for line in lines]

    def poll(self) -> str:
        now = time.monotonic()
        self.time_in[self.step] += now - self.last_poll
        self.last_poll = now
        folders = [p for p in self.data_root.glob("folder-*") if p.is_dir()]
        staging = any((f / "landing" / ".tmp").exists() for f in folders)
        if staging:
            self.stage_seen = True
            self._move("stage")
        elif self.stage_seen:
            self._move("dbt-parse")
        for line in self._new_log_lines():
            if found := NODE_BEGAN.search(line):
                layer = layer_of(found.group(1), found.group(3))
                if layer and not self.dbt_done:
                    self._move(layer)
            elif DBT_DONE.search(line):
                self.dbt_done = True
        in_dbt = STEPS.index(self.step) >= STEPS.index("dbt-parse")
        if in_dbt and self.dbt_done:
            self._move("dbt-end")
        for folder in folders:
            if in_dbt and any((folder / "publish").glob(".tmp-*")):
                self._move("publish")
            if self.step == "publish" and self._latest() != self.latest_at_start:
                self._move("summary")
            if STEPS.index(self.step) < STEPS.index("summary"):
                continue
            for step, names in LATE_STEP_FOLDERS.items():
                if any(_written_since(folder / name, self.started) for name in names):
                    self._move(step)
        if STEPS.index(self.step) >= STEPS.index("summary") and self.output is not None:
            printed = _read_text(self.output)
            for step, line in LATE_STEP_LINES.items():
                if line.search(printed):
                    self._move(step)
        return self.step

    def durations(self) -> dict[str, float]:
        """Each step seen and the time spent in it, in seconds."""
        self.poll()
        return {step: round(seconds, 3) for step, seconds in self.time_in.items()}


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _written_since(path: Path, since_monotonic: float) -> bool:
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return False
    return mtime >= time.time() - (time.monotonic() - since_monotonic)


@dataclass(frozen=True)
class Fault:
    seed: int
    phase: str
    kind: str
    step: str
    fraction: float  # where in the step, as a fraction of its length in the clean run
    stop_s: float  # sigstop only: how long the run stays stopped

    @classmethod
    def from_seed(cls, seed: int) -> Fault:
        rng = random.Random(seed)
        return cls(
            seed=seed,
            phase=rng.choice(PHASES),
            kind=rng.choice(KINDS),
            step=rng.choice(STEPS),
            fraction=round(rng.random(), 4),
            stop_s=round(rng.uniform(1.0, 4.0), 2),
        )

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def draw_seeds(master: int, steps_seen: dict[str, list[str]], kinds: tuple[str, ...]) -> Iterator[int]:
    """Fault seeds drawn from `master`, without end, each aimed at a step the clean run of its phase showed
    and a kind this machine can inject, the least-covered (kind, step) pairs first so that a campaign of a few
    dozen covers every pair (a pair drawn 200 times in a row without a less-covered one is taken anyway)."""
    rng = random.Random(master)
    covered: dict[tuple[str, str], int] = {}
    pairs = {(k, s) for k in kinds for phase in PHASES for s in steps_seen.get(phase, [])}
    if not pairs:
        return
    attempts = 0
    while True:
        attempts += 1
        seed = rng.randrange(1, 2**31)
        fault = Fault.from_seed(seed)
        if fault.kind not in kinds or fault.step not in steps_seen.get(fault.phase, []):
            continue
        least = min(covered.get(p, 0) for p in pairs)
        if covered.get((fault.kind, fault.step), 0) > least and attempts < 200:
            continue
        covered[(fault.kind, fault.step)] = covered.get((fault.kind, fault.step), 0) + 1
        attempts = 0
        yield seed
