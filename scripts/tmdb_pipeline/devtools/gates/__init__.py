"""`make test` / `make lint`: every quality gate in turn, then one PASS/FAIL line per gate.

Gates, in order: sqlfluff, ruff, conventions (dbt-bouncer + dbt-score on the parsed manifest), workflows
(check-jsonschema + zizmor), pytest, the dbt build of the built-in sample with every test, on the
warehouse that build made the catalog conventions (every column the warehouse has is documented), and
spark (the same models built on Spark and compared with DuckDB; it fails where Spark cannot run).
Opt-in gates run only when named (`--only`): spark-cluster (`make test-spark-cluster`: the same models on a
local Spark cluster through its Thrift server, with a worker and the server lost mid-build).
`--only static` runs the first four; `--only <gate>[,<gate>]` runs the named ones; `--skip <gate>[,...]`
leaves gates out (CI runs the spark gate as a job of its own). Every failure names the file at fault.
Exit status: 0 when every gate passed, 1 otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tmdb_pipeline.devtools.gates.builds import (
    build_sample,
    check_catalog_conventions,
    check_spark,
    check_spark_cluster,
    run_pytest,
)
from tmdb_pipeline.devtools.gates.common import GateResult, say
from tmdb_pipeline.devtools.gates.static import check_conventions, check_workflows, lint_python, lint_sql
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.project import project


@dataclass(frozen=True)
class Gate:
    name: str
    run: Callable[[Path], GateResult]
    static: bool


GATES = (
    Gate("sqlfluff", lint_sql, True),
    Gate("ruff", lint_python, True),
    Gate("conventions", check_conventions, True),
    Gate("workflows", check_workflows, True),
    Gate("pytest", run_pytest, False),
    Gate("dbt build", build_sample, False),
    Gate("catalog conventions", check_catalog_conventions, False),
    Gate("spark", check_spark, False),
)
# Gates that run only when named with --only: longer than `make test` should wait for.
OPT_IN_GATES = (Gate("spark-cluster", check_spark_cluster, False),)


def _names(listed: str | None) -> set[str]:
    """Gate names from a comma-separated list; `static` stands for the four static gates."""
    names: set[str] = set()
    for name in (w.strip() for w in (listed or "").split(",")):
        if name == "static":
            names |= {g.name for g in GATES if g.static}
        elif name:
            names.add(name)
    known = GATES + OPT_IN_GATES
    unknown = sorted(names - {g.name for g in known})
    if unknown:
        raise UserError(
            f"unknown gate {', '.join(unknown)}: use static, or any of {', '.join(g.name for g in known)}"
        )
    return names


def _selected(only: str | None, skip: str | None = None) -> list[Gate]:
    wanted, skipped = _names(only), _names(skip)
    chosen = [g for g in GATES if (not wanted or g.name in wanted) and g.name not in skipped]
    return chosen + [g for g in OPT_IN_GATES if g.name in wanted and g.name not in skipped]


def run_gates(only: str | None = None, skip: str | None = None, root: Path | None = None) -> int:
    """Run the chosen gates in order; print one PASS/FAIL line each and the count. 0 when all passed."""
    root = root or project().root
    gates = _selected(only, skip)
    outcomes: list[tuple[Gate, GateResult | None, float]] = []
    for gate in gates:
        say(f"\n=== {gate.name} " + "=" * max(0, 96 - len(gate.name)))
        started = time.monotonic()
        if (
            gate.name == "catalog conventions"
            and outcomes
            and outcomes[-1][0].name == "dbt build"
            and not (outcomes[-1][1] and outcomes[-1][1].ok)
        ):
            result = GateResult(
                False, ["not run: it checks the warehouse that the dbt build gate failed to make"]
            )
        else:
            try:
                result = gate.run(root)
            except Exception as error:  # noqa: BLE001 -- a gate's own crash is that gate's failure, not the end of the run
                result = GateResult(
                    False, [f"scripts/tmdb_pipeline/devtools/gates: {gate.name} crashed: {error!r}"]
                )
        outcomes.append((gate, result, time.monotonic() - started))

    say("\n" + "=" * 100)
    for gate, result, seconds in outcomes:
        say(f"{'PASS' if result and result.ok else 'FAIL'}  {gate.name:<20} {seconds:7.1f} s")
        if result and not result.ok:
            for problem in result.problems[:20]:
                say(f"      {problem}")
            if len(result.problems) > 20:
                say(f"      ... and {len(result.problems) - 20} more (above)")
    passed = sum(1 for _, result, _ in outcomes if result and result.ok)
    failed = len(outcomes) - passed
    say(f"gates: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1
