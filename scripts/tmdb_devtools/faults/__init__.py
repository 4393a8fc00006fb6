"""A fault campaign over the whole pipeline run (`make faults`, `python -m tmdb_devtools faults`).

The pipeline promises that a crash loses nothing: nothing staged twice or lost, a published set always a
whole green build, a re-run repairs what a crash left. The campaign tests that promise as Jepsen and
SQLite's crash tests do, by faults at random moments and invariants checked after each: it runs `tmdb run`
on a slice of the real sample (`sandbox`), injects one fault (`kinds`: SIGKILL of the process group, a
full disk, the data folder turned read-only, SIGSTOP) at a moment drawn from a seed inside a step of the run
(`moments`: get, stage, each layer of dbt, publish, and the steps after it where they exist), runs `tmdb
run` again, and checks the landing zone, the published set, the tables and a reader that read throughout
(`invariants`). `campaign` drives it and writes the results (seeds, kinds, steps hit, invariants, broken);
`render_markdown` turns them into the docs' figure.
"""

from __future__ import annotations

from typing import Any

from tmdb_devtools.faults.moments import KINDS, STEPS


def render_markdown(results: dict[str, Any]) -> str:
    """The docs' figure (`<!-- figures:faults:... -->`) from a campaign's results file."""
    faults, broken = results.get("faults", 0), results.get("broken", 0)
    kinds = results.get("kinds", [])
    steps = results.get("steps", [])
    missed = f"{results['missed']} more drawn, their run over first; " if results.get("missed") else ""
    lines = [
        f"**{faults} faults at random moments, {len(kinds)} kinds, {broken} invariants broken** "
        f"({len(steps)} steps hit; {results.get('checks', 0)} invariant checks; {missed}campaign seed "
        f"{results.get('seed')}, {results.get('wall_s', 0) / 60:.0f} min on {results.get('cores')} cores; "
        f"`{results.get('command', '')}`).",
        "",
        f"Slice: {results.get('slice', '')}.",
        "",
    ]
    clean = results.get("clean_run_s") or {}
    if clean and faults:
        # why a campaign takes what it takes: every trial is a faulted run and a recovery run of the slice,
        # and a run of any slice pays dbt's floor per node (docs/decisions/0004-dbt-per-node-floor.md)
        runs = ", ".join(f"{phase} {seconds:.0f} s" for phase, seconds in clean.items())
        lines += [
            f"A clean run of the slice took {runs}; the campaign averaged "
            f"{results.get('wall_s', 0) / faults:.0f} s per fault (a faulted run, then a recovery run).",
            "",
        ]
    injected = [t for t in results.get("trials", []) if t.get("injected")]
    per_kind = ", ".join(f"{k} {sum(1 for t in injected if t['kind'] == k)}" for k in KINDS)
    per_step = ", ".join(f"{s} {sum(1 for t in injected if t['step_hit'] == s)}" for s in STEPS if s in steps)
    lines += [f"Faults per kind: {per_kind}. Per step hit: {per_step}."]
    left_out = results.get("kinds_left_out") or {}
    if left_out:
        lines += ["", "Left out on that machine: " + "; ".join(f"{k} ({why})" for k, why in left_out.items())]
    if results.get("broken_seeds"):
        seeds = ", ".join(str(s) for s in results["broken_seeds"])
        lines += ["", f"Broken (replay with `--replay SEED`): {seeds}"]
    return "\n".join(lines) + "\n"
