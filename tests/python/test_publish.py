"""Publishing (write-audit-publish, tmdb_pipeline.warehouse.publish): only a green build is published,
atomically, and readers of the published files never block a build nor see a part of one.

The first tests publish a small hand-made warehouse (no dbt): layout, manifest, versions kept, a publish
killed midway, and Spark's table folders giving the same files as DuckDB's tables. The last ones run the real
pipeline (`tmdb run`, what `make run` calls) on a copy of the project: a reader holding the published
files open while `make run` rebuilds, and a failing dbt test that must leave the last publish byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from _pipeline_helpers import REPO_ROOT, wait_until
from tmdb_pipeline.warehouse import publish
from tmdb_pipeline.workspace import DataRoot, Workspace


@pytest.fixture(autouse=True)
def _no_path_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TMDB_DUCKDB_PATH", "TMDB_SPARK_DIR", "TMDB_LANDING_DIR", "TMDB_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


def workspace(data_dir: Path) -> Workspace:
    """The data folder `data_dir` (its warehouse: data_dir/tmdb.duckdb; its Spark tables: data_dir/spark)."""
    return DataRoot(data_dir.parent).workspace(data_dir)


def make_warehouse(path: Path, rows: int = 3) -> Path:
    """A DuckDB file with a marts schema of two tables, and a core table that must not be published."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts; create schema core")
        con.execute(
            "create table marts.mart_a as select i::bigint as id, 'title ' || i as title,"
            " (i * 0.5)::double as score, timestamp '2024-01-01 00:00:00' + to_days(i::int) as staged_at"
            f" from range({rows}) t(i)"
        )
        con.execute("create table marts.mart_b as select 'x' as entity, true as is_reconciled")
        con.execute("create table core.fct_hidden as select 1 as id")
    return path


def checksums(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def versions(data_dir: Path) -> list[str]:
    return [p.name for p in publish.published_versions(data_dir / "publish")]


def test_a_publish_is_known_to_be_of_the_warehouse_as_it_is_until_the_warehouse_changes(
    tmp_path: Path,
) -> None:
    """A run that skips the build republishes unless `latest` came from this very warehouse: a publish cut
    off after a green build (killed, a full disk) must not leave the build before it published for good (the
    fault campaign found this: tests/python/test_faults_replay.py)."""
    data_dir = tmp_path / "sample"
    assert not publish.is_of_warehouse(workspace(data_dir), "duckdb")  # nothing published
    make_warehouse(data_dir / "tmdb.duckdb")
    publish.publish(workspace(data_dir))
    assert publish.is_of_warehouse(workspace(data_dir), "duckdb")
    assert not publish.is_of_warehouse(workspace(data_dir), "spark")
    (data_dir / "tmdb.duckdb").unlink()
    make_warehouse(data_dir / "tmdb.duckdb", rows=5)  # a later green build whose publish did not happen
    assert not publish.is_of_warehouse(workspace(data_dir), "duckdb")
    publish.publish(workspace(data_dir))
    assert publish.is_of_warehouse(workspace(data_dir), "duckdb")


def test_publish_writes_one_parquet_per_mart_and_a_manifest_then_points_latest_at_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "sample"
    make_warehouse(data_dir / "tmdb.duckdb")
    tests = {"passed": 10, "failed": 0, "warned": 0, "skipped": 2, "skipped_reason": "why"}
    result = publish.publish(workspace(data_dir), source_label="built-in sample", tests=tests)

    latest = data_dir / "publish" / "latest"
    assert latest.is_symlink() and os.readlink(latest) == result.version
    assert publish.latest_published(workspace(data_dir)) == result.folder.resolve()
    assert sorted(p.name for p in result.folder.iterdir()) == [
        "manifest.json",
        "mart_a.parquet",
        "mart_b.parquet",
    ]
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert manifest["relations"]["mart_a"] == {
        "file": "mart_a.parquet",
        "rows": 3,
        "columns": {"id": "BIGINT", "title": "VARCHAR", "score": "DOUBLE", "staged_at": "TIMESTAMP"},
    }
    assert manifest["tests"] == tests
    assert manifest["target"] == "duckdb"
    assert manifest["source"]["kind"] == "sample" and manifest["source"]["label"] == "built-in sample"
    assert {"published_at", "built_at", "dbt_version", "batches", "version"} <= set(manifest)
    with duckdb.connect() as con:
        assert con.execute(f"select count(*) from '{result.folder / 'mart_a.parquet'}'").fetchone() == (3,)
    assert not list((data_dir / "publish").glob(".*")), "a temporary folder or link was left behind"


def test_a_new_publish_keeps_the_previous_version_for_readers_and_deletes_older_ones(tmp_path: Path) -> None:
    data_dir = tmp_path / "sample"
    make_warehouse(data_dir / "tmdb.duckdb")
    made = [publish.publish(workspace(data_dir)).version for _ in range(3)]
    assert versions(data_dir) == made[1:]
    assert publish.latest_published(workspace(data_dir)) == (data_dir / "publish" / made[2]).resolve()


def test_nothing_published_yet_is_none(tmp_path: Path) -> None:
    assert publish.latest_published(workspace(tmp_path)) is None


def test_a_killed_publish_leaves_no_partial_version_and_the_next_publish_cleans_up(tmp_path: Path) -> None:
    data_dir = tmp_path / "sample"
    make_warehouse(data_dir / "tmdb.duckdb")
    first = publish.publish(workspace(data_dir))
    before = checksums(first.folder)
    halfway = tmp_path / "halfway"
    # a publish that stops for good after writing its first file, until it is killed
    code = textwrap.dedent(
        f"""
        import pathlib, time
        from tmdb_pipeline.warehouse import publish
        from tmdb_pipeline.workspace import DataRoot
        export = publish._export
        def slow(*args):
            done = export(*args)
            pathlib.Path({str(halfway)!r}).touch()
            time.sleep(600)
            return done
        publish._export = slow
        data_dir = pathlib.Path({str(data_dir)!r})
        publish.publish(DataRoot(data_dir.parent).workspace(data_dir))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        wait_until(halfway.exists, 60, "the publish to write its first file")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    assert versions(data_dir) == [first.version], "a killed publish left a version behind"
    assert publish.latest_published(workspace(data_dir)) == first.folder.resolve()
    assert checksums(first.folder) == before
    partial = data_dir / "publish" / f".tmp-{proc.pid}"
    assert partial.is_dir(), "expected the killed publish's hidden work folder"

    second = publish.publish(workspace(data_dir))
    assert not partial.exists(), "the next publish did not remove the killed one's work folder"
    assert versions(data_dir) == [first.version, second.version]


def test_spark_table_folders_publish_the_same_files_as_duckdb_tables(tmp_path: Path) -> None:
    """Spark's tables are parquet folders (part files, rows in any order, timestamps as UTC instants);
    published, they give the same bytes as the DuckDB warehouse's tables."""
    duck_dir, spark_dir = tmp_path / "duck", tmp_path / "spark"
    warehouse = make_warehouse(duck_dir / "tmdb.duckdb", rows=50)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set timezone = 'UTC'")
        for table in ("mart_a", "mart_b"):
            folder = spark_dir / "spark" / "warehouse" / "marts.db" / table
            folder.mkdir(parents=True)
            replace = "replace (staged_at::timestamptz as staged_at)" if table == "mart_a" else ""
            for part in (0, 1):
                con.execute(
                    f"copy (select * exclude (rn) {replace} from (select *, row_number() over () as rn"
                    f" from marts.{table}) where rn % 2 = {part} order by random())"
                    f" to '{folder}/part-{part:05d}.snappy.parquet' (format parquet, compression snappy)"
                )
            (folder / "_SUCCESS").touch()
    from_duckdb = publish.publish(workspace(duck_dir))
    from_spark = publish.publish(workspace(spark_dir), target="spark")

    def files(result: publish.PublishResult) -> dict[str, str]:
        return {
            name: digest for name, digest in checksums(result.folder).items() if name.endswith(".parquet")
        }

    assert files(from_spark) == files(from_duckdb)
    manifest = json.loads((from_spark.folder / "manifest.json").read_text())
    assert (
        manifest["target"] == "spark"
        and manifest["relations"]["mart_a"]["columns"]["staged_at"] == "TIMESTAMP"
    )


# --- the real pipeline ---------------------------------------------------------------------------------


class Project:
    """A copy of the project (code only) whose pipeline runs on the built-in sample, 200 movies."""

    IGNORED = (".git", ".venv", "data", "target", "logs", "dbt_packages", ".dbt_offline", "__pycache__")

    def __init__(self, root: Path) -> None:
        self.root = root / "project"
        shutil.copytree(REPO_ROOT, self.root, ignore=shutil.ignore_patterns(*self.IGNORED, ".*_cache"))
        self.home = root / "home"
        self.home.mkdir()

    @property
    def data_dir(self) -> Path:
        return self.root / "data" / "sample"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("KAGGLE", "TMDB_", "DBT_", "PYTHONPATH"))
        }
        env.update(
            TMDB_PROJECT_DIR=str(self.root),  # the installed command, on this copy of the project
            HOME=str(self.home),
            TMDB_SAMPLE_SIZE="200",
            TMDB_SKIP_DBT_DEPS="1",
            TMDB_THREADS="2",
            DBT_SEND_ANONYMOUS_USAGE_STATS="False",
        )
        return subprocess.run(
            [sys.executable, "-m", "tmdb_pipeline", "run", "--source", "sample", *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )


def describe(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n" + "\n".join((done.stdout + done.stderr).splitlines()[-40:])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    built = Project(tmp_path_factory.mktemp("publish-pipeline"))
    first = built.run()
    assert first.returncode == 0, describe(first)
    assert "Published     data/sample/publish/latest (" in first.stdout, describe(first)
    return built


@pytest.mark.slow
def test_a_reader_holding_published_files_open_does_not_block_make_run(project: Project) -> None:
    held = publish.latest_published(workspace(project.data_dir))
    assert held is not None
    reader = duckdb.connect()
    reader.execute(
        f"create view titles as select * from read_parquet('{held}/*.parquet', union_by_name = true)"
    )
    handle = open(held / "mart_reporting__top_titles.parquet", "rb")  # noqa: SIM115 -- held across the build
    try:
        before = reader.execute("select count(*) from titles").fetchone()
        rebuilt = project.run("--rebuild")
        assert rebuilt.returncode == 0, describe(rebuilt)
        newest = publish.latest_published(workspace(project.data_dir))
        assert newest != held, "the rebuild published no new version"
        # the reader's version is still there, whole, for as long as it reads it
        assert reader.execute("select count(*) from titles").fetchone() == before
        assert handle.read(4) == b"PAR1"
    finally:
        handle.close()
        reader.close()


@pytest.mark.slow
def test_a_failing_dbt_test_leaves_the_last_publish_byte_identical(project: Project) -> None:
    latest = publish.latest_published(workspace(project.data_dir))
    assert latest is not None
    before, kept = checksums(latest), versions(project.data_dir)
    failing = project.root / "tests" / "dbt" / "assert_this_build_fails.sql"
    failing.write_text("-- planted by tests/python/test_publish.py\nselect 1 as failure\n")
    try:
        failed = project.run("--rebuild")
    finally:
        failing.unlink()
    assert failed.returncode == 1, describe(failed)
    assert "Published     nothing: the build failed" in failed.stdout, describe(failed)
    assert publish.latest_published(workspace(project.data_dir)) == latest
    assert checksums(latest) == before
    assert versions(project.data_dir) == kept
    assert not list((project.data_dir / "publish").glob(".tmp-*"))
