"""The Spark target builds the same warehouse as DuckDB, first and incremental builds alike.

A generated dataset (the built-in sample's generator, 1,000 movies + 250 series) is staged and built on
both targets through the pipeline (`run --target duckdb`, then `build --target spark`: one `dbt build`
each with seeds, every model, the snapshot and every test). Then version 2 of the same dataset (changed
popularity, votes, status, seasons; about 1% new titles) is staged as a second batch and both are built
again, Spark from another working directory. That second build takes every incremental path: raw models
append the new batch, staging models replace the changed ids, the snapshot closes changed versions.

Then every table of core, marts and snapshots is compared row for row, order-independent: text, integers,
dates and keys exactly, floating-point numbers within FLOAT_TOLERANCE (the engines sum in different
orders); columns stamped with a run's clock are left out. Spark's tables are read straight from their
parquet files, so no second JVM is started.

Skipped, with the reason, where requirements-spark.txt is not installed or Java 17+ is missing.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from _pipeline_helpers import LOAD_TIME_COLUMN
from conftest import REPO_ROOT, pipeline_env
from tmdb_pipeline import sample, spark_env

COMPARED_SCHEMAS = ("core", "marts", "snapshots")
# Relative tolerance for DOUBLE columns: averages and sums of the same numbers in another order.
FLOAT_TOLERANCE = 1e-9
SIZE = {"movies": 1000, "series": 250}
BUILD_TIMEOUT_S = 1800


def _skip_reason() -> str | None:
    if os.environ.get("TMDB_TEST_SPARK") != "1":
        # Four Spark-and-DuckDB builds took 27 min on a loaded 2-core machine: opt-in until made faster.
        return "Spark parity is opt-in: set TMDB_TEST_SPARK=1 (takes 10-30 min on 2 cores)"
    missing = spark_env.missing_packages()
    if missing:
        return f"Spark target not installed ({', '.join(missing)} missing): see requirements-spark.txt"
    java = spark_env.java_executable()
    major = spark_env.java_major_version(java) if java else None
    if major is None or major < spark_env.MIN_JAVA:
        return f"Spark needs Java {spark_env.MIN_JAVA}+ (found: {java or 'no java'}, version {major})"
    return None


class Builds:
    """Both targets' builds of one data folder, with their run results kept per build."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dataset = root / "dataset"
        self.results: dict[str, dict[str, str]] = {}

    @property
    def data_dir(self) -> Path:
        return (self.root / "data" / "current").resolve()

    def env(self, engine: str) -> dict[str, str]:
        return pipeline_env(
            TMDB_DATA_ROOT=str(self.root / "data"),
            DBT_TARGET_PATH=str(self.root / f"target-{engine}"),
            DBT_LOG_PATH=str(self.root / f"logs-{engine}"),
        )

    def pipeline(self, name: str, engine: str, *args: str, cwd: Path | None = None) -> None:
        done = subprocess.run(
            [sys.executable, str(REPO_ROOT / "scripts" / "pipeline.py"), *args],
            cwd=cwd or self.root,  # never the repository: every path must come from the settings
            env=self.env(engine),
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-60:])
        assert done.returncode == 0, f"{name} failed (exit {done.returncode}):\n{tail}"
        results = orjson.loads((self.root / f"target-{engine}" / "run_results.json").read_bytes())
        self.results[name] = {item["unique_id"]: item["status"] for item in results["results"]}

    def stage_and_build(self, version: int, spark_cwd: Path) -> None:
        spec = sample.SampleSpec(movies=SIZE["movies"], series=SIZE["series"], version=version)
        sample.generate(self.dataset, spec, workers=2, force=True)
        self.pipeline(
            f"duckdb v{version}", "duckdb", "run", "--source", str(self.dataset), "--target", "duckdb"
        )
        self.pipeline(f"spark v{version}", "spark", "build", "--target", "spark", cwd=spark_cwd)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Builds:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    built = Builds(tmp_path_factory.mktemp("spark_parity"))
    built.stage_and_build(1, spark_cwd=built.root)
    elsewhere = built.root / "elsewhere"
    elsewhere.mkdir()
    built.stage_and_build(2, spark_cwd=elsewhere)
    return built


@pytest.mark.slow
@pytest.mark.parametrize("version", [1, 2])
def test_spark_build_runs_every_node_of_the_duckdb_build(builds: Builds, version: int) -> None:
    duck, spark = builds.results[f"duckdb v{version}"], builds.results[f"spark v{version}"]
    failed = {node: status for node, status in spark.items() if status not in ("success", "pass", "no-op")}
    assert not failed, f"Spark build nodes that did not pass: {failed}"
    # the same nodes with the same outcome as on DuckDB (exposures are a no-op on both)
    assert spark == duck
    kinds = {node.split(".", 1)[0] for node in spark}
    assert {"seed", "model", "snapshot", "test", "unit_test"} <= kinds


@pytest.mark.slow
def test_second_spark_build_found_the_first_ones_tables_and_wrote_nothing_in_its_working_dir(
    builds: Builds,
) -> None:
    raw = _spark_table_dir(builds, "raw", "raw_tmdb__movies")
    with duckdb.connect() as con:
        batches = con.sql(
            f"select distinct batch_id from read_parquet('{raw}/*.parquet') order by 1"
        ).fetchall()
    assert [b for (b,) in batches] == ["b000001", "b000002"], "the raw layer is not the two batches appended"
    assert os.listdir(builds.root / "elsewhere") == [], "the build wrote into its working directory"


@pytest.mark.slow
def test_landing_zone_files_survive_the_spark_builds(builds: Builds) -> None:
    """The landing tables are external: declaring them again on every run never deletes the files."""
    batches = sorted(p.name for p in (builds.data_dir / "landing").glob("batch=*"))
    assert batches == ["batch=b000001", "batch=b000002"]
    for batch in batches:
        folder = builds.data_dir / "landing" / batch
        assert list(folder.glob("movies-*.ndjson")) and (folder / "manifest.ndjson").is_file()


def _duckdb_tables(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list[str]]:
    rows = con.sql(
        "select table_schema, table_name, column_name from information_schema.columns "
        f"where table_schema in {COMPARED_SCHEMAS!r} order by table_schema, table_name, ordinal_position"
    ).fetchall()
    tables: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in rows:
        tables.setdefault((schema, table), []).append(column)
    return tables


def _normalise(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _sort_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # floats rounded so that rows differing only within the tolerance sort alike
    return tuple(
        (0, "") if v is None else (1, f"{v:.6g}") if isinstance(v, float) else (1, repr(v)) for v in row
    )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=FLOAT_TOLERANCE, abs_tol=1e-12)
    return a == b


def _spark_table_dir(builds: Builds, schema: str, table: str) -> Path:
    return spark_env.spark_dir(builds.data_dir) / "warehouse" / f"{schema}.db" / table


@pytest.mark.slow
def test_every_core_mart_and_snapshot_table_has_the_same_rows_on_spark(builds: Builds) -> None:
    warehouse = builds.data_dir / "tmdb.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = _duckdb_tables(con)
        assert tables, f"no table in {COMPARED_SCHEMAS} in {warehouse}"
        differences: list[str] = []
        for (schema, table), all_columns in sorted(tables.items()):
            columns = [c for c in all_columns if not LOAD_TIME_COLUMN.search(c)]
            quoted = ", ".join(f'"{c}"' for c in columns)
            spark_dir = _spark_table_dir(builds, schema, table)
            if not spark_dir.is_dir():
                differences.append(f"{schema}.{table}: no Spark table at {spark_dir}")
                continue
            duck_rows = con.sql(f'select {quoted} from "{schema}"."{table}"').fetchall()
            spark_rows = con.sql(f"select {quoted} from read_parquet('{spark_dir}/*.parquet')").fetchall()
            duck_rows = sorted((tuple(map(_normalise, r)) for r in duck_rows), key=_sort_key)
            spark_rows = sorted((tuple(map(_normalise, r)) for r in spark_rows), key=_sort_key)
            if len(duck_rows) != len(spark_rows):
                differences.append(
                    f"{schema}.{table}: {len(duck_rows)} rows on DuckDB, {len(spark_rows)} on Spark"
                )
                continue
            for duck_row, spark_row in zip(duck_rows, spark_rows, strict=True):
                unequal = [
                    f"{col}: {d!r} (DuckDB) != {s!r} (Spark)"
                    for col, d, s in zip(columns, duck_row, spark_row, strict=True)
                    if not _same(d, s)
                ]
                if unequal:
                    differences.append(f"{schema}.{table}, first differing row: " + "; ".join(unequal[:5]))
                    break
    assert not differences, "\n".join(differences)


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
    lock_file = tmp_path / "spark" / "metastore_db" / "dbex.lck"
    lock_file.parent.mkdir(parents=True)
    lock_file.write_bytes(b"\0\0\0\0")
    holder = _hold_posix_lock(lock_file)
    try:
        with pytest.raises(spark_env.LockedError) as refused:
            spark_env.ensure_metastore_free(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    message = str(refused.value)
    assert str(lock_file.parent) in message and f"PID {holder.pid}" in message
    assert "one process at a time" in message
    # once the holder is gone its lock is gone with it: the lock file left behind is not a collision
    spark_env.ensure_metastore_free(tmp_path)


def test_building_on_spark_before_anything_is_staged_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TMDB_LANDING_DIR", raising=False)
    with pytest.raises(spark_env.UserError, match="Nothing staged: no batch in the landing zone"):
        spark_env.prepare(tmp_path)
    (tmp_path / "landing" / ".tmp").mkdir(parents=True)  # a staging run that never finished
    with pytest.raises(spark_env.UserError, match="make stage SOURCE=sample"):
        spark_env.ensure_staged(tmp_path)


def test_failure_hint_reads_only_this_runs_part_of_the_log(tmp_path: Path) -> None:
    log = tmp_path / "dbt.log"
    log.write_text(f"an earlier run: {spark_env.DERBY_COLLISION} /x/metastore_db\n")
    start = spark_env.log_size(log)
    with log.open("a") as more:
        more.write("this run: Database error\n")
    assert spark_env.failure_hint(tmp_path, log, start) is None
    with log.open("a") as more:
        more.write(f"XSDB6: {spark_env.DERBY_COLLISION} /x/metastore_db\n")
    hint = spark_env.failure_hint(tmp_path, log, start)
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
    assert spark_env.java_major_version(str(java)) == major


def test_old_java_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bin").mkdir()
    java = tmp_path / "bin" / "java"
    java.write_text("#!/bin/sh\necho 'java version \"1.8.0_392\"' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(spark_env.UserError, match=r"needs Java 17 or newer.*Java 8"):
        spark_env.ensure_java()


def test_spark_settings_are_absolute_paths_under_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TMDB_SPARK_DIR", "TMDB_LANDING_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    env = spark_env.spark_env(Path("data") / "sample")
    assert env["TMDB_SPARK_DIR"] == str(tmp_path / "data" / "sample" / "spark")
    assert env["TMDB_LANDING_DIR"] == str(tmp_path / "data" / "sample" / "landing")
    assert env["TMDB_DATA_DIR"] == str(tmp_path / "data" / "sample")
    assert (Path(env["SPARK_CONF_DIR"]) / "log4j2.properties").is_file()
