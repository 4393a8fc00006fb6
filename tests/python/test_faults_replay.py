"""Faults that broke an invariant, replayed by their seeds (tmdb_devtools.faults): each must now hold.

Every seed here is a whole fault: which run, which kind, which step, where in it (`Fault.from_seed`). The
campaign runs on a small slice of the real sample, so these tests skip where it is absent; the faults that
need a filesystem of their own skip where this machine cannot mount one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tmdb_devtools.faults import kinds
from tmdb_devtools.faults.campaign import run_campaign
from tmdb_devtools.faults.moments import STEPS, Fault
from tmdb_devtools.faults.sandbox import Slice, mount_available

pytestmark = [pytest.mark.slow, pytest.mark.real_data]

# seed -> what it broke before its fix
BROKEN_BEFORE = {
    # The disk filled up while a green build of the second run was being published: the publish failed, and
    # the next run, with nothing new to stage and the build stamp intact, skipped the build and kept the first
    # run's set as `latest` for good (fixed: warehouse.publish.is_of_warehouse).
    103: "disk-full in publish (second run): the published set stayed the build before the last green one",
    # The same, the publish killed instead.
    724: "sigkill in publish (second run): the published set stayed the build before the last green one",
    # The disk filled up as the first run began: its build died creating the DuckDB file, which was then no
    # database at all, and every later run refused it as "locked by another process" (fixed:
    # warehouse.targets sets such a file aside and the build starts a new warehouse).
    972328510: "disk-full in get (first run): an unreadable warehouse file stopped every later run",
}


def test_the_faults_that_broke_an_invariant_hold_now(real_sample_dir: Path, tmp_path: Path) -> None:
    seeds = sorted(BROKEN_BEFORE)
    if any(kinds.unavailable(Fault.from_seed(s).kind, has_disk=mount_available() is None) for s in seeds):
        pytest.skip(f"cannot mount a filesystem for the full-disk fault here: {mount_available()}")
    results = run_campaign(
        count=0,
        seed=0,
        replay=seeds,
        work=tmp_path / "work",
        real_sample=real_sample_dir,
        out=tmp_path / "faults.json",
        spec=Slice(movies=60, series=15, new_movies=10, new_series=3, changed=8),
    )
    trials = {t["seed"]: t for t in results["trials"]}
    assert sorted(trials) == seeds
    for seed, trial in trials.items():
        fault = Fault.from_seed(seed)
        # A step shorter than the poll's reaction (get, on a slice this small) can be over before its moment
        # comes: the fault then lands at the start of the next step, which is still the replay of this seed.
        assert trial["injected"], (BROKEN_BEFORE[seed], trial)
        assert STEPS.index(trial["step_hit"]) in (STEPS.index(fault.step), STEPS.index(fault.step) + 1), (
            BROKEN_BEFORE[seed],
            trial,
        )
        assert trial["problems"] == {}, (BROKEN_BEFORE[seed], trial)
    assert results["broken"] == 0
