"""The campaign: clean runs first (the references every trial is held to, and the length of each step), then
one trial per fault seed: reset the data root to the phase's starting state, start `tmdb run`, inject the
fault at its moment, let the run end, undo the fault, run `tmdb run` again as a user would, and check every
invariant. Results are written after each trial, so a campaign cut short keeps what it measured.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tmdb_devtools.checksums import table_checksums
from tmdb_devtools.faults import invariants, kinds
from tmdb_devtools.faults.invariants import INVARIANTS, Reader
from tmdb_devtools.faults.moments import KINDS, PHASES, STEPS, Fault, Progress, draw_seeds
from tmdb_devtools.faults.sandbox import CampaignBox, Finished, Slice, Started, mounted, write_slice

log = logging.getLogger(__name__)

SOURCE_VERSION = {"first": "v1", "second": "v2"}
RUN_TIMEOUT_S = 900.0
MAX_DRAWS_PER_FAULT = 3  # a campaign whose faults keep missing their moment stops, short, after this many
LOCKED_PHRASE = "is in use by another process"


@dataclass
class References:
    """What clean runs left: per phase, the tables, the published set and the time spent in each step."""

    snapshot_first: Path  # the data root after a clean first run: where every second-phase trial starts
    data_folder: str  # the data folder's name under the data root
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # phase -> table_checksums
    published: dict[str, dict[str, Any]] = field(default_factory=dict)  # phase -> published checksums
    model: dict[str, str] = field(default_factory=dict)  # phase -> invariants.model_state
    durations: dict[str, dict[str, float]] = field(default_factory=dict)  # phase -> step -> seconds
    elapsed_s: dict[str, float] = field(default_factory=dict)

    def steps_seen(self) -> dict[str, list[str]]:
        return {phase: [s for s in STEPS if s in steps] for phase, steps in self.durations.items()}


def _watched_run(box: CampaignBox, name: str) -> tuple[Finished, Progress]:
    started = box.start(name, "run", "--source", str(box.source))
    progress = Progress(box.data_root, box.dbt_log, started.output)
    try:
        while started.running():
            progress.poll()
            time.sleep(0.02)
    except BaseException:
        started.signal(signal.SIGKILL)
        raise
    return started.wait(RUN_TIMEOUT_S), progress


def _green(run: Finished, what: str) -> None:
    if run.returncode != 0:
        raise RuntimeError(
            f"{what} failed (exit {run.returncode}); the campaign needs it green:\n{run.tail()}"
        )


def calibrate(box: CampaignBox, phases: tuple[str, ...] = PHASES) -> References:
    """A clean first run, then the second (new and changed files) on top of it, then, when first-run faults
    are to come, the first again (dbt's parse is saved by now, as in every trial): the references and the
    steps' lengths."""
    box.reset_data(None)
    box.set_source("v1")
    first, _ = _watched_run(box, "clean-first-cold")
    _green(first, "the clean first run")
    folder = box.data_folder()
    assert folder is not None
    refs = References(snapshot_first=box.save_data("first"), data_folder=folder.name)
    refs.tables["first"] = table_checksums(folder / "tmdb.duckdb")
    refs.published["first"] = invariants.published_checksums(folder / "publish")
    refs.model["first"] = invariants.model_state(folder)
    box.set_source("v2")
    second, progress = _watched_run(box, "clean-second")
    _green(second, "the clean second run")
    refs.tables["second"] = table_checksums(folder / "tmdb.duckdb")
    refs.published["second"] = invariants.published_checksums(folder / "publish")
    refs.model["second"] = invariants.model_state(folder)
    refs.durations["second"], refs.elapsed_s["second"] = progress.durations(), second.elapsed_s
    if "first" not in phases:
        return refs
    box.reset_data(None)
    box.set_source("v1")
    again, progress = _watched_run(box, "clean-first")
    _green(again, "the clean first run, again")
    problems = invariants.tables_match(folder / "tmdb.duckdb", refs.tables["first"])
    if problems:
        raise RuntimeError("two clean first runs differ, so no trial can be judged: " + "; ".join(problems))
    refs.durations["first"], refs.elapsed_s["first"] = progress.durations(), again.elapsed_s
    return refs


def run_trial(box: CampaignBox, refs: References, fault: Fault) -> dict[str, Any]:
    """One fault, the run after it, and every invariant."""
    began = time.monotonic()
    box.reset_data(None if fault.phase == "first" else refs.snapshot_first)
    box.set_source(SOURCE_VERSION[fault.phase])
    folder = box.data_root / refs.data_folder
    reader = Reader(folder / "publish")
    reader.start()
    name = f"trial-{fault.seed}"
    run = box.start(name, "run", "--source", str(box.source))
    progress = Progress(box.data_root, box.dbt_log, run.output)
    try:
        return _judge(box, refs, fault, folder, reader, progress, run, began)
    except BaseException:
        run.signal(signal.SIGCONT)
        run.signal(signal.SIGKILL)
        reader.stop()
        raise


def _judge(
    box: CampaignBox,
    refs: References,
    fault: Fault,
    folder: Path,
    reader: Reader,
    progress: Progress,
    run: Started,
    began: float,
) -> dict[str, Any]:
    published_before = fault.phase == "second"
    name = f"trial-{fault.seed}"
    target = fault.fraction * refs.durations[fault.phase].get(fault.step, 0.0)
    hit, at = None, 0.0
    while run.running():
        step = progress.poll()
        reached = STEPS.index(step) > STEPS.index(fault.step) and fault.step in progress.time_in
        if (step == fault.step and progress.time_in[step] >= target) or reached:
            hit, at = step, time.monotonic() - run.started
            break
        time.sleep(0.01)
    record: dict[str, Any] = {**fault.describe(), "step_hit": hit, "at_s": round(at, 3), "problems": {}}
    if hit is None:  # the run ended before the moment came: no fault, nothing to judge
        run.wait(RUN_TIMEOUT_S)
        reader.stop()
        record["injected"] = False
        record["elapsed_s"] = round(time.monotonic() - began, 1)
        return record
    record["injected"] = True
    problems: dict[str, list[str]] = {name: [] for name in INVARIANTS}
    faulted, second = _inject(box, run, fault)
    record["faulted_exit"] = faulted.returncode
    # not an invariant of the issue's, but the house rule: a failure says what to do, never a traceback
    record["faulted_traceback"] = _traceback(faulted.output)
    if second is not None:
        refused = second.returncode != 0 and LOCKED_PHRASE in second.output
        record["second_run_exit"] = second.returncode
        if not (refused or second.returncode == 0) or "Traceback" in second.output:
            problems["a second run is refused while the first is stopped"].append(
                f"exit {second.returncode}: {second.tail(6)}"
            )
    # Between the fault and the next run: whatever is visible is whole.
    problems["published set whole"] += invariants.published_whole(
        folder / "publish", required=published_before
    )
    problems["landing zone: no half batch"] += invariants.landing_whole(folder / "landing")
    recovery = box.run(f"{name}-rerun", "run", "--source", str(box.source), timeout=RUN_TIMEOUT_S)
    record["rerun_exit"] = recovery.returncode
    if recovery.returncode != 0:
        problems["recovery run green"].append(f"exit {recovery.returncode}: {recovery.tail(12)}")
    problems["reader saw no error and no partial set"] += reader.stop()
    record["reader_reads"] = reader.reads
    problems["published set whole"] += invariants.published_whole(folder / "publish", required=True)
    batches = sorted(p.name.removeprefix("batch=") for p in (folder / "landing").glob("batch=*"))
    problems["published set is the last green build's"] += invariants.published_matches(
        folder / "publish", refs.published[fault.phase], batches
    )
    problems["landing zone: no half batch"] += invariants.landing_whole(folder / "landing")
    problems["landing zone: nothing staged twice or lost"] += invariants.landing_reconciles(
        folder / "landing", box.source
    )
    problems["core and mart tables equal a clean build's"] += invariants.tables_match(
        folder / "tmdb.duckdb", refs.tables[fault.phase]
    )
    problems["the model is the published set's, whole"] += invariants.model_matches(
        folder, refs.model[fault.phase]
    )
    record["problems"] = {k: v for k, v in problems.items() if v}
    record["checked"] = [k for k in INVARIANTS if second is not None or not k.startswith("a second run")]
    record["elapsed_s"] = round(time.monotonic() - began, 1)
    return record


def _inject(box: CampaignBox, run: Started, fault: Fault) -> tuple[Finished, Finished | None]:
    """Do the fault to the running `run`, let the run end, undo the fault. Returns the faulted run and, for
    a stop, the second run started while the first was stopped."""
    if fault.kind == "sigkill":
        run.signal(signal.SIGKILL)
        return run.wait(60), None
    if fault.kind == "sigstop":
        kinds.stop(run.group)
        stopped_at = time.monotonic()
        second = box.run(f"trial-{fault.seed}-second", "run", "--source", str(box.source), timeout=600)
        time.sleep(max(0.0, fault.stop_s - (time.monotonic() - stopped_at)))
        kinds.cont(run.group)
        return run.wait(RUN_TIMEOUT_S), second
    if fault.kind == "disk-full":
        filler = kinds.fill(box.data_root)
        try:
            return run.wait(RUN_TIMEOUT_S), None
        finally:
            filler.unlink(missing_ok=True)
    if fault.kind == "read-only":
        before = mounted(box.data_root)
        kinds.make_read_only(box.data_root)
        try:
            return run.wait(RUN_TIMEOUT_S), None
        finally:
            kinds.undo_read_only(box.data_root, before)
    raise ValueError(f"unknown fault kind {fault.kind}")


def summarise(
    results: dict[str, Any], trials: list[dict[str, Any]], started: float, refs: References | None
) -> None:
    injected = [t for t in trials if t.get("injected")]
    broken = [t for t in injected if t["problems"]]
    results.update(
        faults=len(injected),
        missed=len(trials) - len(injected),
        kinds=sorted({t["kind"] for t in injected}),
        steps=[s for s in STEPS if any(t["step_hit"] == s for t in injected)],
        per_kind={k: sum(1 for t in injected if t["kind"] == k) for k in KINDS},
        per_step={s: sum(1 for t in injected if t["step_hit"] == s) for s in STEPS},
        checks=sum(len(t.get("checked", [])) for t in injected),
        broken=sum(len(t["problems"]) for t in broken),
        broken_seeds=[t["seed"] for t in broken],
        tracebacks={t["seed"]: t["faulted_traceback"] for t in injected if t.get("faulted_traceback")},
        wall_s=round(time.monotonic() - started, 1),
        finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        trials=trials,
    )
    if refs is not None:
        results["clean_run_s"] = {p: round(s, 1) for p, s in refs.elapsed_s.items()}
        results["steps_seen"] = refs.steps_seen()


def run_campaign(
    *,
    count: int,
    seed: int,
    replay: list[int],
    work: Path,
    real_sample: Path,
    out: Path,
    spec: Slice,
) -> dict[str, Any]:
    started = time.monotonic()
    box = CampaignBox(work)
    results: dict[str, Any] = {
        "command": f"python -m tmdb_devtools faults --count {count} --seed {seed}"
        + "".join(f" --replay {s}" for s in replay),
        "seed": seed,
        "slice": spec.describe(),
        "cores": os.cpu_count(),
        "invariants": list(INVARIANTS),
    }
    try:
        results["files"] = write_slice(real_sample, box.versions, spec)
        box.mount_disk()
        skipped = {k: why for k in KINDS if (why := kinds.unavailable(k, box.has_disk))}
        for kind, why in skipped.items():
            log.warning("fault kind %s left out: %s", kind, why)
        results["kinds_left_out"] = skipped
        available = tuple(k for k in KINDS if k not in skipped)
        log.info("clean runs: the references and each step's length")
        phases = tuple(sorted({Fault.from_seed(s).phase for s in replay})) if replay else PHASES
        refs = calibrate(box, phases)
        # A fault whose run ends before its moment is not injected: another is drawn in its place, so that
        # `count` faults are injected (replayed seeds are run once each, whatever they hit).
        wanted = len(replay) if replay else count
        seeds = iter(replay) if replay else draw_seeds(seed, refs.steps_seen(), available)
        trials: list[dict[str, Any]] = []
        for trial_seed in itertools.islice(seeds, wanted if replay else MAX_DRAWS_PER_FAULT * count):
            injected = sum(1 for t in trials if t["injected"])
            if not replay and injected >= count:
                break
            fault = Fault.from_seed(trial_seed)
            if fault.kind in skipped:
                log.warning(
                    "seed %s: %s cannot be injected here (%s)", trial_seed, fault.kind, skipped[fault.kind]
                )
                continue
            what = f"{fault.kind} in {fault.step} ({fault.phase} run)"
            number = len(trials) + 1 if replay else injected + 1
            log.info("fault %d/%d: seed %s, %s", number, wanted, trial_seed, what)
            record = run_trial(box, refs, fault)
            trials.append(record)
            log.info("  hit %s at %.1f s; %s", record["step_hit"], record["at_s"], _verdict(record))
            summarise(results, trials, started, refs)
            _write(out, results)
        summarise(results, trials, started, refs)
        _write(out, results)
        return results
    finally:
        box.close()


def _traceback(output: str) -> str | None:
    """The last line of a Python traceback in a run's output (the exception), or None."""
    if "Traceback (most recent call last)" not in output:
        return None
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "Traceback"


def _verdict(record: dict[str, Any]) -> str:
    if not record["injected"]:
        return "not injected: the run ended first"
    if record["problems"]:
        return "BROKEN: " + json.dumps(record["problems"])
    return f"every invariant holds ({record['elapsed_s']:.0f} s)"


def _write(out: Path, results: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out)


__all__ = ["References", "calibrate", "run_campaign", "run_trial"]
