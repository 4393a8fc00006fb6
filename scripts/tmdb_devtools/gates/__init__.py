"""`make test` / `make lint`: every quality gate, then one PASS/FAIL line per gate.

Gates: sqlfluff, ruff, conventions (dbt-bouncer + dbt-score on the parsed manifest), workflows
(check-jsonschema + zizmor), pytest, the dbt build of the built-in sample with every test, on the
warehouse that build made the catalog conventions (every column the warehouse has is documented), the
dashboard (AppTest and headless Chromium on the published sample), faults (a short fault campaign: random
faults over whole runs of a slice of the real sample, every invariant checked after each;
tmdb_devtools.faults), spark (the same models built on Spark and compared with DuckDB; it fails where Spark
cannot run), airflow (tests/airflow: the Airflow DAG run end to end, with the Airflow venv) and containers
(tests/containers: the image built and run through compose.yaml). The last two are self-contained and run
one after another in a second lane beside the others (see BesideLane); the summary lists every gate's time
and the five slowest tests.
Opt-in gates run only when named (`--only`, or `--with` with the rest, last): spark-cluster
(`make test-spark-cluster`: the same models on a local Spark cluster through its Thrift server, with a
worker and the server lost mid-build), self-contained too, last in the second lane.
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

from tmdb_devtools.gates.builds import (
    build_sample,
    check_airflow,
    check_catalog_conventions,
    check_containers,
    check_dashboard,
    check_faults,
    check_spark,
    check_spark_cluster,
    run_pytest,
)
from tmdb_devtools.gates.common import TEST_REPORTS, GateResult, say, slowest_tests
from tmdb_devtools.gates.static import check_conventions, check_workflows, lint_python, lint_sql
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
    Gate("faults", check_faults, False),
    Gate("spark", check_spark, False),
    Gate("airflow", check_airflow, False, beside=True),
    Gate("containers", check_containers, False, beside=True),
)
# Gates that run only when named with --only or --with: longer than `make test` should wait for.
# The lanes are balanced by the gates' times in CI (the summary's): spark in the first, after faults; the
# spark-cluster gate, as long as containers, last in the second.
OPT_IN_GATES = (Gate("spark-cluster", check_spark_cluster, False, beside=True),)


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


def _selected(only: str | None, skip: str | None = None, also: str | None = None) -> list[Gate]:
    wanted, skipped, added = _names(only), _names(skip), _names(also)
    chosen = [g for g in GATES if (not wanted or g.name in wanted) and g.name not in skipped]
    return chosen + [g for g in OPT_IN_GATES if g.name in wanted | added and g.name not in skipped]


class Beside:
    """A gate run in a process of its own while the others run in this one (`python -m tmdb_devtools test
    --only <gate>`); its output goes to a log file, printed whole when the gates end."""

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
                [sys.executable, "-m", "tmdb_devtools", "test", "--only", gate.name],
                cwd=root,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait(self) -> tuple[GateResult, float]:
        code = self.process.wait()
        seconds = time.monotonic() - self.started
        shutil.rmtree(self.basetemp, ignore_errors=True)
        problems = [] if code == 0 else [f"its output is above and in {self.log.relative_to(self.root)}"]
        return GateResult(code == 0, problems), seconds

    def report(self) -> None:
        say(f"\n=== {self.gate.name} (ran beside the others) " + "=" * max(0, 72 - len(self.gate.name)))
        say(self.log.read_text(encoding="utf-8", errors="replace").rstrip())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.basetemp, ignore_errors=True)


class BesideLane:
    """The gates marked `beside`, one after another, each in a process of its own (Beside), while the other
    gates run in this process.

    A gate's work is one busy core at a time (pytest, a dbt build, dbt on Airflow's workers, Spark's
    per-statement round trips) and this machine has two: two lanes take about the time of the longer one
    rather than the sum. The lane's gates are those that share nothing with the others: their data,
    Airflow homes, Spark metastores and container stacks are in folders of their own.
    """

    def __init__(self, gates: list[Gate], root: Path) -> None:
        self.gates, self.root = gates, root
        self.ran: list[Beside] = []
        self.results: dict[str, tuple[GateResult, float]] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        logs = ", ".join(str(root / GATE_LOGS / f"{g.name}.log") for g in gates)
        say(
            f"\n=== {', '.join(g.name for g in gates)}: run one after another beside the other gates; "
            f"their output goes to {logs} and is shown here when the gates end"
        )
        self._thread = threading.Thread(target=self._run, name="beside-lane", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for gate in self.gates:
            started = time.monotonic()
            try:
                with self._lock:
                    if self._stopping.is_set():
                        return
                    running = Beside(gate, self.root)
                    self.ran.append(running)
                self.results[gate.name] = running.wait()
            except Exception as error:  # noqa: BLE001 -- as in the first lane: that gate's failure, not the lane's end
                crashed = GateResult(False, [f"scripts/tmdb_devtools/gates: {gate.name} crashed: {error!r}"])
                self.results[gate.name] = (crashed, time.monotonic() - started)

    def finish(self) -> dict[str, tuple[GateResult, float]]:
        self._thread.join()
        for running in self.ran:
            running.report()
        return self.results

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
        for running in self.ran:
            running.stop()


def run_gates(
    only: str | None = None, skip: str | None = None, also: str | None = None, root: Path | None = None
) -> int:
    """Run the chosen gates; print one PASS/FAIL line each, the slowest tests, and the count. 0 when all
    passed. The gates marked `beside` run in a lane of their own (BesideLane) when there are others."""
    root = root or project().root
    gates = _selected(only, skip, also)
    for gate in gates:  # the slowest tests are those of this run's gates
        (root / TEST_REPORTS / f"{gate.name}.xml").unlink(missing_ok=True)
    in_lane = [g for g in gates if g.beside] if any(not g.beside for g in gates) else []
    lane = BesideLane(in_lane, root) if in_lane else None
    results: dict[str, tuple[GateResult | None, float]] = {}
    try:
        for gate in gates:
            if gate in in_lane:
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
                        False, [f"scripts/tmdb_devtools/gates: {gate.name} crashed: {error!r}"]
                    )
            results[gate.name] = (result, time.monotonic() - started)
        if lane:
            results.update(lane.finish())
    finally:
        if lane:
            lane.stop()

    say("\n" + "=" * 100)
    for gate in gates:
        result, seconds = results[gate.name]
        where = " (beside the others)" if gate in in_lane else ""
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
