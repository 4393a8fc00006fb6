"""The gates that build: pytest, the dbt build of the built-in sample, the catalog conventions of what it
built, the dashboard (AppTest and headless Chromium on the published sample), airflow (the DAG in the Airflow
venv), the containers gate (the image and compose.yaml) and the spark gate (the same models on Spark,
compared with DuckDB)."""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

from tmdb_devtools import browser, containers
from tmdb_devtools.gates.common import GateResult, pytest, relative, run, say, tmdb
from tmdb_devtools.gates.static import bouncer, last_error, manifest_nodes
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.warehouse import spark

# The spark gate's tests: the `pytest` gate leaves them out, so they run once.
SPARK_TESTS = "tests/python/test_spark_parity.py"
# The dashboard gate's tests (AppTest and headless Chromium): the `pytest` gate leaves them out too.
DASHBOARD_TESTS = ("tests/python/test_dashboard_app.py", "tests/python/test_dashboard_browser.py")
# The spark-cluster gate's tests (`make test-spark-cluster`, not part of `make test`): likewise left out.
CLUSTER_TESTS = "tests/python/test_spark_cluster.py"
DOCS_DIR = Path("target") / "docs"
# The containers gate's tests: outside tests/python, so the pytest gate never builds an image.
CONTAINERS_TESTS = "tests/containers"
# The faults gate's replays of the seeds that once broke an invariant: the `pytest` gate leaves them out.
FAULTS_REPLAY_TESTS = "tests/python/test_faults_replay.py"


def check_catalog_conventions(root: Path) -> GateResult:
    """The docs site of the warehouse just built (`tmdb docs --no-serve`), then the catalog checks."""
    docs = root / DOCS_DIR
    code, out = run(
        [
            *tmdb("docs"),
            "--no-serve",
            "--docs-dir",
            str(docs),
        ],
        root,
        env={"DBT_LOG_PATH": str(root / "logs")},
    )
    if code != 0 or not (docs / "catalog.json").is_file():
        say(out.rstrip())
        return GateResult(False, [f"dbt docs generate failed (exit {code}): {last_error(out)}"])
    say(f"docs site written to {relative(str(docs), root)}/ (index.html, manifest.json, catalog.json)")
    return bouncer(root, docs, "catalog_checks", manifest_nodes(docs / "manifest.json"))


def run_pytest(root: Path) -> GateResult:
    """pytest on tests/python but the spark, spark-cluster and dashboard gates' files; its output goes to the
    terminal."""
    left_to_other_gates = (*DASHBOARD_TESTS, SPARK_TESTS, CLUSTER_TESTS, FAULTS_REPLAY_TESTS)
    ignored = [arg for test in left_to_other_gates for arg in ("--ignore", test)]
    code, _ = run(pytest(root, "pytest", "tests/python", *ignored), root, capture=False)
    return GateResult(
        code == 0, [] if code == 0 else [f"tests/python: pytest failed (exit {code}); see above"]
    )


def check_spark(root: Path) -> GateResult:
    """The Spark target: tests/python/test_spark_parity.py builds a generated sample on DuckDB and on Spark
    (one `dbt build` each with every test, then an incremental build) and compares the tables.

    A gate must not pass by skipping: where the Spark extra or Java 17+ is missing, the gate fails
    with the reason (TMDB_REQUIRE_SPARK=1 makes the tests fail rather than skip); the Spark-free tests in
    the file still run.
    """
    unavailable = spark.unavailable_reason()
    if unavailable:
        say(f"spark: cannot build on Spark here: {unavailable}")
    code, _ = run(
        pytest(root, "spark", SPARK_TESTS),
        root,
        capture=False,
        env={"TMDB_REQUIRE_SPARK": "1"},
    )
    problems = [f"{SPARK_TESTS}: {unavailable}"] if unavailable else []
    if code != 0:
        problems.append(f"{SPARK_TESTS}: pytest failed (exit {code}); see above")
    return GateResult(code == 0 and not unavailable, problems)


def build_sample(root: Path) -> GateResult:
    """`tmdb run --source sample --rebuild`: stage the built-in sample, dbt build with every test."""
    code, _ = run(
        tmdb("run", "--source", "sample", "--rebuild"),
        root,
        capture=False,
    )
    problems = (
        []
        if code == 0
        else [f"dbt build failed (exit {code}); the failing models and tests are listed above"]
    )
    return GateResult(code == 0, problems)


def dashboard_unavailable() -> str | None:
    """Why the dashboard tests cannot run here: the dashboard extra, or a browser, is missing."""
    missing = [
        name for name in ("streamlit", "altair", "playwright") if importlib.util.find_spec(name) is None
    ]
    reasons = []
    if missing:
        reasons.append(f"{', '.join(missing)} not installed: `make venv-dashboard` (make test installs it)")
    if browser.find_chromium() is None:
        reasons.append(browser.INSTALL_HINT)
    return "; ".join(reasons) or None


def check_dashboard(root: Path) -> GateResult:
    """The dashboard: every page run by Streamlit's AppTest (figures against SQL on the published files) and
    opened in headless Chromium on the built-in sample, built and published once for both files.

    It fails rather than skips where streamlit, altair, playwright or a Chromium is missing, naming it.
    """
    unavailable = dashboard_unavailable()
    if unavailable:
        say(f"dashboard: cannot run the dashboard tests here: {unavailable}")
        return GateResult(False, [f"{DASHBOARD_TESTS[1]}: {unavailable}"])
    code, _ = run(pytest(root, "dashboard", *DASHBOARD_TESTS), root, capture=False)
    problems = [] if code == 0 else [f"{', '.join(DASHBOARD_TESTS)}: pytest failed (exit {code}); see above"]
    return GateResult(code == 0, problems)


def check_airflow(root: Path) -> GateResult:
    """tests/airflow with the Airflow venv's pytest (`make airflow-venv` creates it): the DAG's shape, whole
    runs on the sample compared with `tmdb run`, a failing dbt test, and the UI (REST trigger, screenshot)."""
    python = root / ".venv-airflow" / "bin" / "python"
    if not python.exists():
        return GateResult(False, [f"{python.parent.parent.name}/: missing; run `make airflow-venv`"])
    code, _ = run(pytest(root, "airflow", "tests/airflow", python=str(python)), root, capture=False)
    problems = [] if code == 0 else [f"tests/airflow: pytest failed (exit {code}); see above"]
    return GateResult(code == 0, problems)


def containers_unavailable(root: Path) -> list[str]:
    """What the containers gate lacks here, one line each naming what to install (none: it can run)."""
    try:
        containers.compose_command(containers.engine(), root)
    except UserError as error:
        return str(error).split("; ")
    return []


def check_containers(root: Path) -> GateResult:
    """tests/containers: the image built (on a Debian base made by debootstrap where no registry can be
    reached), `tmdb run` in it through compose compared with the host's, the dashboard's health check, the
    image scanned for the test's fake credentials (tmdb_devtools.containers; docs/containers.md).

    It fails rather than skips where podman, runc or debootstrap (or a Docker Engine, with
    TMDB_CONTAINER_ENGINE=docker) is missing, naming what to install.
    """
    missing = containers_unavailable(root)
    if missing:
        for line in missing:
            say(f"containers: {line}")
        return GateResult(False, [f"{CONTAINERS_TESTS}: {line}" for line in missing])
    code, _ = run(pytest(root, "containers", CONTAINERS_TESTS), root, capture=False)
    problems = [] if code == 0 else [f"{CONTAINERS_TESTS}: pytest failed (exit {code}); see above"]
    return GateResult(code == 0, problems)


def check_spark_cluster(root: Path) -> GateResult:
    """The local Spark cluster (`make test-spark-cluster`): tests/python/test_spark_cluster.py starts a
    cluster for a generated sample, builds it through the Thrift server and compares it with DuckDB (first
    build and incremental batch), loses a worker and then the Thrift server mid-build, and takes the UI
    screenshots. Whatever the tests leave running under the gate's folder is stopped at the end, also after
    a failure or an interrupted pytest. Like the spark gate, it fails where Spark cannot run.
    """
    from tmdb_pipeline.warehouse import spark_cluster

    unavailable = spark.unavailable_reason()
    if unavailable:
        say(f"spark-cluster: cannot run Spark here: {unavailable}")
    work = root / "target" / "test-spark-cluster"
    # pytest empties its --basetemp first: a cluster an interrupted earlier run left there would lose its
    # state file, and with it the only safe way to stop it
    spark_cluster.stop_all_under(work)
    work.parent.mkdir(parents=True, exist_ok=True)  # pytest makes --basetemp, not its parent
    try:
        code, _ = run(
            pytest(root, "spark-cluster", CLUSTER_TESTS, "--basetemp", str(work)),
            root,
            capture=False,
            env={"TMDB_REQUIRE_SPARK": "1"},
        )
    finally:
        left = spark_cluster.stop_all_under(work)
        if left:
            say(f"spark-cluster: stopped {left} process(es) the tests left running under {work}")
    problems = [f"{CLUSTER_TESTS}: {unavailable}"] if unavailable else []
    if code != 0:
        problems.append(f"{CLUSTER_TESTS}: pytest failed (exit {code}); see above")
    return GateResult(code == 0 and not unavailable, problems)


# The fault campaign's short version: this many faults at random moments (the full one: `make faults`).
FAULTS_GATE_COUNT = 10


def check_faults(root: Path) -> GateResult:
    """The seeds that once broke an invariant, replayed (tests/python/test_faults_replay.py), then a short
    fault campaign (tmdb_devtools.faults): random faults over whole runs of a slice of the real sample, every
    invariant checked after each. Its seed is random and logged (FAULTS_SEED fixes it); a failure names the
    seeds to replay. Where the real sample is absent, a generated dataset of the same shape stands in."""
    from tmdb_devtools.faults.command import real_sample_default

    code, _ = run(pytest(root, "faults", FAULTS_REPLAY_TESTS), root, capture=False)
    if code != 0:
        return GateResult(False, [f"{FAULTS_REPLAY_TESTS}: pytest failed (exit {code}); see above"])
    results = root / "target" / "faults.json"
    sample = real_sample_default()
    args = ["--count", os.environ.get("FAULTS_COUNT", str(FAULTS_GATE_COUNT)), "--out", str(results)]
    # a smaller slice than the campaign's: dbt's time hardly depends on it, staging's and publishing's do
    args += ["--movies", "120", "--series", "30", "--new-movies", "20", "--new-series", "5"]
    if os.environ.get("FAULTS_SEED"):
        args += ["--seed", os.environ["FAULTS_SEED"]]
    with tempfile.TemporaryDirectory(prefix="faults-gate-") as scratch:
        if not (sample / "movies" / "movies").is_dir():
            say(f"faults: no real sample at {sample}: a generated dataset stands in")
            sample = Path(scratch) / "generated"
            code, out = run(tmdb("sample", "--out", str(sample), "--size", "200"), root)
            if code != 0:
                return GateResult(False, [f"tmdb sample failed (exit {code}): {last_error(out)}"])
        code, _ = run(
            [sys.executable, "-m", "tmdb_devtools", "faults", "--real-sample", str(sample), *args],
            root,
            capture=False,
        )
    broken = f"{relative(str(results), root)}: invariants broken; replay the seeds named above"
    problems = [] if code == 0 else [broken]
    return GateResult(code == 0, problems)
