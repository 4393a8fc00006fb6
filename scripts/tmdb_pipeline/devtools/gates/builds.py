"""The gates that build: pytest, the dbt build of the built-in sample, the catalog conventions of what it
built, and the spark gate (the same models on Spark, compared with DuckDB)."""

from __future__ import annotations

import sys
from pathlib import Path

from tmdb_pipeline.devtools.gates.common import GateResult, relative, run, say, tmdb
from tmdb_pipeline.devtools.gates.static import bouncer, last_error, manifest_nodes
from tmdb_pipeline.warehouse import spark

# The spark gate's tests: the `pytest` gate leaves them out, so they run once.
SPARK_TESTS = "tests/python/test_spark_parity.py"
# The spark-cluster gate's tests (`make test-spark-cluster`, not part of `make test`): likewise left out.
CLUSTER_TESTS = "tests/python/test_spark_cluster.py"
DOCS_DIR = Path("target") / "docs"


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
    """pytest on tests/python but the spark gate's file; its output goes to the terminal unchanged."""
    code, _ = run(
        [sys.executable, "-m", "pytest", "tests/python", "--ignore", CLUSTER_TESTS, "--ignore", SPARK_TESTS],
        root,
        capture=False,
    )
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
        [sys.executable, "-m", "pytest", SPARK_TESTS],
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
    spark_cluster.stop_all_under(work, say)
    work.parent.mkdir(parents=True, exist_ok=True)  # pytest makes --basetemp, not its parent
    try:
        code, _ = run(
            [sys.executable, "-m", "pytest", CLUSTER_TESTS, "--basetemp", str(work)],
            root,
            capture=False,
            env={"TMDB_REQUIRE_SPARK": "1"},
        )
    finally:
        left = spark_cluster.stop_all_under(work, say)
        if left:
            say(f"spark-cluster: stopped {left} process(es) the tests left running under {work}")
    problems = [f"{CLUSTER_TESTS}: {unavailable}"] if unavailable else []
    if code != 0:
        problems.append(f"{CLUSTER_TESTS}: pytest failed (exit {code}); see above")
    return GateResult(code == 0 and not unavailable, problems)
