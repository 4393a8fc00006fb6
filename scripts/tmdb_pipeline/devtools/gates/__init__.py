"""`make test` / `make lint`: every quality gate in turn, then one PASS/FAIL line per gate.

Gates, in order: sqlfluff, ruff, conventions (dbt-bouncer + dbt-score on the parsed manifest), workflows
(check-jsonschema + zizmor), pytest, the dbt build of the built-in sample with every test, on the
warehouse that build made the catalog conventions (every column the warehouse has is documented), the
dashboard (AppTest and headless Chromium on the published sample), airflow (tests/airflow: the Airflow
DAG run end to end, with the Airflow venv), containers (tests/containers: the image built and run through
compose.yaml), and spark (the same models built on Spark and compared with DuckDB; it fails where Spark
cannot run). The spark gate starts first, in a process of its own, and runs beside the others (see
Beside); the summary lists every gate's time and the five slowest tests.
Opt-in gates run only when named (`--only`): spark-cluster (`make test-spark-cluster`: the same models on a
local Spark cluster through its Thrift server, with a worker and the server lost mid-build).
`--only static` runs the first four; `--only <gate>[,<gate>]` runs the named ones; `--skip <gate>[,...]`
leaves gates out (CI runs the spark gate as a job of its own). Every failure names the file at fault.
Exit status: 0 when every gate passed, 1 otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tmdb_pipeline.devtools.gates.builds import (
    build_sample,
    check_airflow,
    check_catalog_conventions,
    check_containers,
    check_dashboard,
    check_spark,
    check_spark_cluster,
    run_pytest,
)
from tmdb_pipeline.devtools.gates.common import TEST_REPORTS, GateResult, say, slowest_tests
from tmdb_pipeline.devtools.gates.static import check_conventions, check_workflows, lint_python, lint_sql
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.project import project

# Where a gate run beside the others writes its output.
GATE_LOGS = Path("target") / "gate-logs"


@dataclass(frozen=True)
class Gate:
    name: str
    run: Callable[[Path], GateResult]
    static: bool
    beside: bool = False  # long and self-contained: runs in a process of its own beside the others


GATES = (
    Gate("sqlfluff", lint_sql, True),
    Gate("ruff", lint_python, True),
    Gate("conventions", check_conventions, True),
    Gate("workflows", check_workflows, True),
    Gate("pytest", run_pytest, False),
    Gate("dbt build", build_sample, False),
    Gate("catalog conventions", check_catalog_conventions, False),
    Gate("dashboard", check_dashboard, False),
    Gate("airflow", check_airflow, False),
    Gate("containers", check_containers, False),
    Gate("spark", check_spark, False, beside=True),
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


class Beside:
    """A gate run in a process of its own while the others run in this one (`tmdb test --only <gate>`).

    The spark gate is long and mostly waits on Spark's per-statement round trips, so on two cores it costs
    the gates beside it little; its output goes to a log file, printed whole when it ends.
    """

    def __init__(self, gate: Gate, root: Path) -> None:
        self.gate, self.root = gate, root
        self.log = root / GATE_LOGS / f"{gate.name.replace(' ', '-')}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        # pytest's numbered temporary folders are shared by every pytest of the user: a folder of its own
        self.basetemp = Path(tempfile.mkdtemp(prefix=f"tmdb-gate-{gate.name}-"))
        env = {
            **os.environ,
            "TMDB_PROJECT_DIR": str(root),
            "PYTEST_ADDOPTS": f"{os.environ.get('PYTEST_ADDOPTS', '')} --basetemp={self.basetemp}".strip(),
        }
        self.started = time.monotonic()
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tmdb_pipeline", "test", "--only", gate.name],
                cwd=root,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        # its own time ends when it does, not when the gates of this process let us look
        self.ended: float | None = None
        threading.Thread(target=self._note_end, name=f"gate-{gate.name}", daemon=True).start()
        say(
            f"\n=== {gate.name}: runs beside the other gates; its output goes to "
            f"{self.log.relative_to(root)} and is shown here when it ends"
        )

    def _note_end(self) -> None:
        self.process.wait()
        self.ended = time.monotonic()

    def finish(self) -> tuple[GateResult, float]:
        code = self.process.wait()
        seconds = (self.ended or time.monotonic()) - self.started
        say(f"\n=== {self.gate.name} (ran beside the others) " + "=" * max(0, 72 - len(self.gate.name)))
        say(self.log.read_text(encoding="utf-8", errors="replace").rstrip())
        shutil.rmtree(self.basetemp, ignore_errors=True)
        problems = [] if code == 0 else [f"its output is above and in {self.log.relative_to(self.root)}"]
        return GateResult(code == 0, problems), seconds

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.basetemp, ignore_errors=True)


def run_gates(only: str | None = None, skip: str | None = None, root: Path | None = None) -> int:
    """Run the chosen gates; print one PASS/FAIL line each, the slowest tests, and the count. 0 when all
    passed. A gate marked `beside` runs in a process of its own next to the others when there are others."""
    root = root or project().root
    gates = _selected(only, skip)
    for gate in gates:  # the slowest tests are those of this run's gates
        (root / TEST_REPORTS / f"{gate.name}.xml").unlink(missing_ok=True)
    beside = {g.name: Beside(g, root) for g in gates if g.beside and len(gates) > 1}
    results: dict[str, tuple[GateResult | None, float]] = {}
    try:
        for gate in gates:
            if gate.name in beside:
                continue
            say(f"\n=== {gate.name} " + "=" * max(0, 96 - len(gate.name)))
            started = time.monotonic()
            built = results.get("dbt build")
            if gate.name == "catalog conventions" and built and not (built[0] and built[0].ok):
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
            results[gate.name] = (result, time.monotonic() - started)
        for name, running in beside.items():
            results[name] = running.finish()
    finally:
        for running in beside.values():
            running.stop()

    say("\n" + "=" * 100)
    for gate in gates:
        result, seconds = results[gate.name]
        where = " (beside the others)" if gate.name in beside else ""
        say(f"{'PASS' if result and result.ok else 'FAIL'}  {gate.name:<20} {seconds:7.1f} s{where}")
        if result and not result.ok:
            for problem in result.problems[:20]:
                say(f"      {problem}")
            if len(result.problems) > 20:
                say(f"      ... and {len(result.problems) - 20} more (above)")
    slowest = slowest_tests(root, [gate.name for gate in gates])
    if slowest:
        say("slowest tests (setup included):")
        for seconds, test in slowest:
            say(f"      {seconds:7.1f} s  {test}")
    passed = sum(1 for result, _ in results.values() if result and result.ok)
    failed = len(results) - passed
    say(f"gates: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1
