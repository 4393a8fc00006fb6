"""The Spark target builds the same warehouse as DuckDB, first and incremental builds alike.

This file is the `spark` gate of `make test` (`python -m tmdb_devtools test --only spark`); the `pytest` gate
leaves it out. About 4 minutes on a quiet 2-core machine (245 s measured), nearly all of it Spark's
per-statement cost; `make test` runs it beside the other gates.

A generated dataset (the built-in sample's generator, 1,000 movies + 250 series) is staged and built on
both targets through the pipeline (`run --target duckdb`, then `build --target spark`: one `dbt build`
each with seeds, every model, the snapshot and every data and unit test). Every table of core, marts and
snapshots is then compared row for row.

Then version 2 of the same dataset (changed popularity, votes, status, seasons; about 1% new titles) is
staged as a second batch and built again on both targets with `tmdb dbt build --select
+dim_title_history`: the incremental paths only (raw models append the new batch, staging models replace
the changed ids, the snapshot closes changed versions, the history dimension reads it), with their data
tests. Spark builds from another working directory, so its catalog must be found from the settings
alone. A second full build would cost another 4-6 minutes of Spark's per-statement overhead and test
nothing incremental that this one does not; the unit tests already ran in the first build. The tables
that build wrote (staging, the snapshot, the history dimension) are compared again.

Comparisons (tests/python/_spark_compare.py, shared with the cluster tests) are order-independent: text,
integers, dates and keys exactly, JSON text as parsed JSON, floating-point numbers within a tolerance (the
engines sum in different orders); columns stamped with a run's clock are left out. Spark's tables are read
straight from their parquet files, so no second JVM is started.

Where the Spark extra (requirements/spark.txt) is not installed or Java 17+ is missing, the Spark tests skip
with the reason -- or fail with it when TMDB_REQUIRE_SPARK=1, as the `spark` gate sets. The environment
checks at the end need no Spark and always run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import orjson
import pytest

from _spark_compare import (
    CLOCK_STAMPED,
    FIRST_BUILD_SCHEMAS,
    SECOND_BUILD_SCHEMAS,
    SECOND_BUILD_SELECTION,
    compare_tables,
    normalise,
    passed_as_on_duckdb,
    same,
    sort_key,
    untested_models,
)
from conftest import pipeline_env
from tmdb_pipeline.errors import LockedError, UserError
from tmdb_pipeline.extract import sample
from tmdb_pipeline.project import project
from tmdb_pipeline.warehouse import dbt, packages, spark
from tmdb_pipeline.warehouse.publish import published_versions
from tmdb_pipeline.warehouse.spark import Spark
from tmdb_pipeline.workspace import DataRoot

TMDB = [sys.executable, "-m", "tmdb_pipeline"]

SIZE = {"movies": 1000, "series": 250}
BUILD_TIMEOUT_S = 1200


def _skip_or_fail_without_spark() -> None:
    reason = spark.unavailable_reason()
    if reason is None:
        return
    if os.environ.get("TMDB_REQUIRE_SPARK") == "1":
        pytest.fail(f"TMDB_REQUIRE_SPARK=1 and the Spark build cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


class Builds:
    """Both targets' builds of one data folder: run results and table differences kept per build."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dataset = root / "dataset"
        self.elsewhere = root / "elsewhere"
        self.results: dict[str, dict[str, str]] = {}
        self.differences: dict[str, list[str]] = {}
        self.compared: dict[str, list[str]] = {}
        # dbt-expectations from dbt_packages/, DBT_PACKAGES_MIRROR or the dbt Hub, found once for all builds;
        # without it every build leaves the same tests out (and the run results still match)
        available = packages.prepare(project())
        self.packages_env = {} if available.complete else {"TMDB_SKIP_DBT_DEPS": "1"}

    @property
    def data_dir(self) -> Path:
        return (self.root / "data" / "current").resolve()

    def env(self, engine: str) -> dict[str, str]:
        return pipeline_env(
            TMDB_DATA_ROOT=str(self.root / "data"),
            DBT_TARGET_PATH=str(self.root / f"target-{engine}"),
            DBT_LOG_PATH=str(self.root / f"logs-{engine}"),
            **self.packages_env,
        )

    def pipeline(self, name: str, engine: str, *args: str, cwd: Path | None = None) -> None:
        done = subprocess.run(
            [*TMDB, *args],
            cwd=cwd or self.root,  # never the repository: every path must come from the settings
            env=self.env(engine),
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-60:])
        assert done.returncode == 0, f"{name} failed (exit {done.returncode}):\n{tail}"
        if engine == "stage":
            return
        results = orjson.loads((self.root / f"target-{engine}" / "run_results.json").read_bytes())
        self.results[name] = {item["unique_id"]: item["status"] for item in results["results"]}

    def generate(self, version: int) -> None:
        spec = sample.SampleSpec(movies=SIZE["movies"], series=SIZE["series"], version=version)
        sample.generate(self.dataset, spec, workers=2, force=True)

    def compare(self, name: str, schemas: tuple[str, ...], only: set[str] | None = None) -> None:
        """Record the differences between the engines' tables now, before the next build changes them."""
        self.compared[name], self.differences[name] = compare_tables(
            self.data_dir / "tmdb.duckdb",
            lambda schema, table: _spark_table_dir(self, schema, table),
            schemas,
            only,
        )


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Builds:
    _skip_or_fail_without_spark()
    built = Builds(tmp_path_factory.mktemp("spark_parity"))
    # first version: one full dbt build on each engine
    built.generate(1)
    built.pipeline("duckdb v1", "duckdb", "run", "--source", str(built.dataset), "--target", "duckdb")
    built.pipeline("spark v1", "spark", "build", "--target", "spark")
    built.compare("v1", FIRST_BUILD_SCHEMAS)
    # second version: the incremental paths, Spark from another working directory
    built.generate(2)
    built.pipeline("stage v2", "stage", "stage", "--source", str(built.dataset))
    built.pipeline("duckdb v2", "duckdb", "dbt", "build", "--target", "duckdb", *SECOND_BUILD_SELECTION)
    built.elsewhere.mkdir()
    built.pipeline(
        "spark v2",
        "spark",
        "dbt",
        "build",
        "--target",
        "spark",
        *SECOND_BUILD_SELECTION,
        cwd=built.elsewhere,
    )
    second = {
        node.rsplit(".", 1)[-1]
        for node in built.results["spark v2"]
        if node.startswith(("model.", "snapshot."))
    }
    built.compare("v2", SECOND_BUILD_SCHEMAS, only=second)
    return built


@pytest.mark.slow
def test_first_spark_build_runs_every_node_of_the_duckdb_build(builds: Builds) -> None:
    spark = passed_as_on_duckdb(builds.results["spark v1"], builds.results["duckdb v1"])
    kinds = {node.split(".", 1)[0] for node in spark}
    assert {"seed", "model", "snapshot", "test", "unit_test"} <= kinds


@pytest.mark.slow
def test_incremental_spark_build_passes_like_the_duckdb_one(builds: Builds) -> None:
    spark = passed_as_on_duckdb(builds.results["spark v2"], builds.results["duckdb v2"])
    built = {node.rsplit(".", 1)[-1] for node in spark}
    incremental = {"raw_tmdb__movies", "raw_tmdb__series", "stg_tmdb__movies", "stg_tmdb__series"}
    assert incremental | {"snap_title_attributes", "dim_title_history"} <= built
    untested = untested_models(spark, builds.root / "target-spark" / "manifest.json")
    assert untested == set(), "the second build made these without testing them"


@pytest.mark.slow
@pytest.mark.parametrize("build", ["v1", "v2"])
def test_every_compared_table_has_the_same_rows_on_spark(builds: Builds, build: str) -> None:
    assert builds.compared[build], f"build {build}: no table compared"
    assert not builds.differences[build], "\n".join(builds.differences[build])


@pytest.mark.slow
def test_second_spark_build_found_the_first_ones_tables_and_wrote_nothing_in_its_working_dir(
    builds: Builds,
) -> None:
    assert {"staging.stg_tmdb__movies", "snapshots.snap_title_attributes"} <= set(builds.compared["v2"])
    raw = _spark_table_dir(builds, "raw", "raw_tmdb__movies")
    with duckdb.connect() as con:
        batches = con.sql(
            f"select distinct batch_id from read_parquet('{raw}/*.parquet') order by 1"
        ).fetchall()
    assert [b for (b,) in batches] == ["b000001", "b000002"], "the raw layer is not the two batches appended"
    assert os.listdir(builds.elsewhere) == [], "the build wrote into its working directory"


@pytest.mark.slow
def test_landing_zone_files_survive_the_spark_builds(builds: Builds) -> None:
    """The landing tables are external: declaring them again on every run never deletes the files."""
    batches = sorted(p.name for p in (builds.data_dir / "landing").glob("batch=*"))
    assert batches == ["batch=b000001", "batch=b000002"]
    for batch in batches:
        folder = builds.data_dir / "landing" / batch
        assert list(folder.glob("movies-*.ndjson")) and (folder / "manifest.ndjson").is_file()


@pytest.mark.slow
def test_the_spark_build_publishes_the_same_files_as_the_duckdb_build(builds: Builds) -> None:
    """Each green build published its marts (warehouse.publish): DuckDB's run, then Spark's build. The two
    published versions hold the same relations, columns, types and rows (floats within FLOAT_TOLERANCE)."""
    root = builds.data_dir / "publish"
    duck, spark = published_versions(root)[-2:]
    manifests = {v: orjson.loads((v / "manifest.json").read_bytes()) for v in (duck, spark)}
    assert manifests[duck]["target"] == "duckdb" and manifests[spark]["target"] == "spark"
    assert (root / "latest").resolve() == spark
    duck_relations, spark_relations = (manifests[v]["relations"] for v in (duck, spark))
    assert spark_relations == duck_relations  # files, row counts, columns and types
    differing = []
    with duckdb.connect() as con:
        for name, relation in duck_relations.items():
            columns = [c for c in relation["columns"] if not CLOCK_STAMPED.search(c)]
            quoted = ", ".join(f'"{c}"' for c in columns)
            duck_rows, spark_rows = (
                sorted(
                    (
                        tuple(normalise(v, c) for v, c in zip(row, columns, strict=True))
                        for row in con.sql(
                            f"select {quoted} from read_parquet('{v / relation['file']}')"
                        ).fetchall()
                    ),
                    key=sort_key,
                )
                for v in (duck, spark)
            )
            if not all(
                same(a, b)
                for dr, sr in zip(duck_rows, spark_rows, strict=True)
                for a, b in zip(dr, sr, strict=True)
            ):
                differing.append(name)
    assert not differing, f"published files whose rows differ between the engines: {differing}"


# --- where the Spark tables are ------------------------------------------------------------------------


def _spark_table_dir(builds: Builds, schema: str, table: str) -> Path:
    return (
        DataRoot(builds.root / "data").workspace(builds.data_dir).spark_dir
        / "warehouse"
        / f"{schema}.db"
        / table
    )


# --- the Spark environment checks (no Spark needed) ---------------------------------------------------


def _hold_posix_lock(path: Path) -> subprocess.Popen[str]:
    """A process that holds a POSIX lock on path, as Derby holds metastore_db/dbex.lck."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(path)!r}, os.O_RDWR)\n"
            "fcntl.lockf(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_metastore_in_use_is_refused_naming_the_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TMDB_SPARK_DIR", raising=False)
    workspace = DataRoot(tmp_path).workspace(tmp_path)
    lock_file = tmp_path / "spark" / "metastore_db" / "dbex.lck"
    lock_file.parent.mkdir(parents=True)
    lock_file.write_bytes(b"\0\0\0\0")
    holder = _hold_posix_lock(lock_file)
    try:
        with pytest.raises(LockedError) as refused:
            spark.ensure_metastore_free(workspace)
    finally:
        holder.kill()
        holder.wait()
    message = str(refused.value)
    assert str(lock_file.parent) in message and f"PID {holder.pid}" in message
    assert "one process at a time" in message
    # once the holder is gone its lock is gone with it: the lock file left behind is not a collision
    spark.ensure_metastore_free(workspace)


def test_building_on_spark_before_anything_is_staged_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TMDB_LANDING_DIR", raising=False)
    workspace = DataRoot(tmp_path).workspace(tmp_path)
    with pytest.raises(UserError, match="Nothing staged: no batch in the landing zone"):
        Spark().prepare(workspace)
    (tmp_path / "landing" / ".tmp").mkdir(parents=True)  # a staging run that never finished
    with pytest.raises(UserError, match="make stage SOURCE=sample"):
        spark.ensure_staged(workspace)


def test_failure_hint_reads_only_this_runs_part_of_the_log(tmp_path: Path) -> None:
    log = tmp_path / "dbt.log"
    workspace = DataRoot(tmp_path).workspace(tmp_path)
    log.write_text(f"an earlier run: {spark.DERBY_COLLISION} /x/metastore_db\n")
    start = log.stat().st_size
    with log.open("a") as more:
        more.write("this run: Database error\n")
    assert Spark().failure_hint(workspace, dbt.log_since(log, start)) is None
    with log.open("a") as more:
        more.write(f"XSDB6: {spark.DERBY_COLLISION} /x/metastore_db\n")
    hint = Spark().failure_hint(workspace, dbt.log_since(log, start))
    assert hint is not None and "in use by another process" in hint


@pytest.mark.parametrize(
    ("banner", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ("no version here", None),
    ],
)
def test_java_version_is_read_from_its_banner(tmp_path: Path, banner: str, major: int | None) -> None:
    java = tmp_path / "java"
    java.write_text(f"#!/bin/sh\necho '{banner}' >&2\n")
    java.chmod(0o755)
    assert spark.java_major_version(str(java)) == major


def test_old_java_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bin").mkdir()
    java = tmp_path / "bin" / "java"
    java.write_text("#!/bin/sh\necho 'java version \"1.8.0_392\"' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    reason = spark.unavailable_reason()
    assert reason is not None and "needs Java 17 or newer" in reason and "version 8" in reason


def test_spark_settings_are_absolute_paths_under_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TMDB_SPARK_DIR", "TMDB_LANDING_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name in ("TMDB_DATA_DIR", "TMDB_DUCKDB_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    workspace = DataRoot(Path("data")).workspace(Path("data") / "sample")
    env = {**workspace.dbt_env(), **Spark().env(workspace)}
    assert env["TMDB_SPARK_DIR"] == str(tmp_path / "data" / "sample" / "spark")
    assert env["TMDB_LANDING_DIR"] == str(tmp_path / "data" / "sample" / "landing")
    assert env["TMDB_DATA_DIR"] == str(tmp_path / "data" / "sample")
    assert (Path(env["SPARK_CONF_DIR"]) / "log4j2.properties").is_file()


@pytest.mark.parametrize(
    ("args", "env_target", "target"),
    [
        (["build", "--target", "spark"], None, "spark"),
        (["build", "-s", "x", "-t", "spark"], None, "spark"),
        (["build", "--target=spark"], None, "spark"),
        (["build"], "spark", "spark"),
        (["build", "--target", "duckdb"], "spark", "duckdb"),
        (["parse"], None, None),
    ],
)
def test_the_dbt_target_is_read_from_dbts_own_options(
    monkeypatch: pytest.MonkeyPatch, args: list[str], env_target: str | None, target: str | None
) -> None:
    if env_target:
        monkeypatch.setenv("DBT_TARGET", env_target)
    else:
        monkeypatch.delenv("DBT_TARGET", raising=False)
    assert dbt.target_named(args) == target


def test_dbt_by_hand_on_spark_is_prepared_like_a_build(tmp_path: Path) -> None:
    """`tmdb dbt <args> --target spark` runs the Spark checks first: here, that nothing is staged."""
    data_dir = tmp_path / "data" / "sample"
    data_dir.mkdir(parents=True)
    done = subprocess.run(
        [*TMDB, "dbt", "build", "--target", "spark"],
        cwd=tmp_path,
        env=pipeline_env(
            TMDB_DATA_ROOT=str(tmp_path / "data"), TMDB_DATA_DIR=str(data_dir), TMDB_SKIP_DBT_DEPS="1"
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "Nothing staged: no batch in the landing zone" in done.stderr, done.stdout + done.stderr


def test_missing_spark_is_a_reason_naming_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spark, "missing_packages", lambda: ["pyspark"])
    reason = spark.unavailable_reason()
    assert reason is not None and "pyspark missing" in reason and "make venv-spark" in reason
    monkeypatch.setattr(spark, "missing_packages", list)
    monkeypatch.setattr(spark, "java_executable", lambda: None)
    reason = spark.unavailable_reason()
    assert reason is not None and "Java 17 or newer" in reason and "no `java` on PATH" in reason
