"""`pipeline.py run` skips dbt build only when the warehouse already holds what a build would produce.

These check the stamp's decision on a data folder with a stand-in warehouse file; that a real `run` then
skips dbt, and that the warehouse it leaves is the first build's, is checked in test_reliability.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tmdb_pipeline import build_stamp, paths


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with one batch and a warehouse file, and a copy of the project's dbt files as root."""
    project = tmp_path / "project"
    for name in ("models", "macros", "seeds", "snapshots", "tests/dbt"):
        shutil.copytree(paths.REPO_ROOT / name, project / name)
    for name in ("dbt_project.yml", "profiles.yml", "packages.yml"):
        shutil.copy2(paths.REPO_ROOT / name, project / name)
    monkeypatch.setattr(paths, "REPO_ROOT", project)
    for variable in ("TMDB_LANDING_DIR", "TMDB_DUCKDB_PATH", "TMDB_SPARK_DIR"):
        monkeypatch.delenv(variable, raising=False)
    folder = tmp_path / "data" / "sample"
    (folder / "landing" / "batch=b000001").mkdir(parents=True)
    (folder / "tmdb.duckdb").write_bytes(b"a warehouse")
    build_stamp.record(folder, "duckdb", "installed")
    return folder


def unchanged(data_dir: Path, packages: str = "installed") -> bool:
    return build_stamp.unchanged_since_last_green_build(data_dir, "duckdb", packages)


def test_nothing_changed_since_the_green_build_means_skip(data_dir: Path) -> None:
    assert unchanged(data_dir)


def test_a_new_batch_means_build(data_dir: Path) -> None:
    (data_dir / "landing" / "batch=b000002").mkdir()
    assert not unchanged(data_dir)


@pytest.mark.parametrize(
    "edited", ["models/core/dim_titles.sql", "macros/cleaning", "seeds", "dbt_project.yml", "tests/dbt"]
)
def test_an_edited_or_added_project_file_means_build(data_dir: Path, edited: str) -> None:
    edit_project(edited)
    assert not unchanged(data_dir)


def edit_project(edited: str) -> None:
    """Append a line to a project file, or add a file to a project folder."""
    target = paths.REPO_ROOT / edited
    if target.is_dir():
        (target / "new_file.sql").write_text("{% macro new_macro() %}1{% endmacro %}\n")
    else:
        target.write_text(target.read_text() + "\n-- edited\n")


def test_other_dbt_packages_mean_build(data_dir: Path) -> None:
    assert not unchanged(data_dir, packages="unavailable")


def test_a_warehouse_changed_by_hand_or_removed_means_build(data_dir: Path) -> None:
    warehouse = data_dir / "tmdb.duckdb"
    stat = warehouse.stat()
    os.utime(warehouse, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert not unchanged(data_dir)
    warehouse.unlink()
    assert not unchanged(data_dir)


def test_a_build_that_started_and_did_not_end_green_means_build(data_dir: Path) -> None:
    build_stamp.forget(data_dir, "duckdb")  # what every build does before dbt starts
    assert not unchanged(data_dir)


def test_another_warehouse_path_means_build(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    moved = data_dir / "elsewhere.duckdb"
    shutil.copy2(data_dir / "tmdb.duckdb", moved)
    monkeypatch.setenv("TMDB_DUCKDB_PATH", str(moved))
    assert not unchanged(data_dir)


def test_a_stamp_of_the_other_target_does_not_count(data_dir: Path) -> None:
    assert not build_stamp.unchanged_since_last_green_build(data_dir, "spark", "installed")


def test_an_unreadable_stamp_means_build(data_dir: Path) -> None:
    build_stamp.stamp_path(data_dir, "duckdb").write_text("{not json")
    assert not unchanged(data_dir)


# Unit tests: left out of a build only when the code is that of the last green build.


def same_code(data_dir: Path, packages: str = "installed", target: str = "duckdb") -> bool:
    return build_stamp.code_unchanged_since_last_green_build(data_dir, target, packages)


def test_new_data_with_the_same_code_leaves_the_unit_tests_out(data_dir: Path) -> None:
    (data_dir / "landing" / "batch=b000002").mkdir()
    warehouse = data_dir / "tmdb.duckdb"
    warehouse.write_bytes(b"a warehouse with more rows")
    assert not unchanged(data_dir)  # a build, then
    assert same_code(data_dir)  # but its unit tests would give what they gave last time


@pytest.mark.parametrize(
    "edited", ["models/intermediate/int_titles_unioned.sql", "macros/engine", "profiles.yml"]
)
def test_edited_code_runs_the_unit_tests(data_dir: Path, edited: str) -> None:
    edit_project(edited)
    assert not same_code(data_dir)


def test_other_packages_or_target_run_the_unit_tests(data_dir: Path) -> None:
    assert not same_code(data_dir, packages="unavailable")
    assert not same_code(data_dir, target="spark")


def test_another_dbt_version_runs_the_unit_tests(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_versions = build_stamp._tool_versions()
    monkeypatch.setattr(build_stamp, "_tool_versions", lambda: {**real_versions, "dbt-core": "0.0.0"})
    assert not same_code(data_dir)


def test_no_green_build_runs_the_unit_tests(data_dir: Path) -> None:
    assert same_code(data_dir)
    build_stamp.forget(data_dir, "duckdb")  # a build started and did not end green
    assert not same_code(data_dir)
