"""`tmdb run` skips dbt build only when the warehouse already holds what a build would produce, and says why
when it builds although nothing new was staged.

These check the stamp's decision on a data folder with a stand-in warehouse file; that a real `run` then
skips dbt, and that the warehouse it leaves is the first build's, is checked in test_reliability.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tmdb_pipeline.project import Project, project
from tmdb_pipeline.warehouse import build_stamp
from tmdb_pipeline.warehouse.build_stamp import BuildStamp
from tmdb_pipeline.warehouse.targets import for_name
from tmdb_pipeline.workspace import DataRoot, Workspace


@pytest.fixture
def copy(tmp_path: Path) -> Project:
    """A copy of the project's dbt files."""
    root = tmp_path / "project"
    for name in ("models", "macros", "seeds", "snapshots", "tests/dbt"):
        shutil.copytree(project().root / name, root / name)
    for name in ("dbt_project.yml", "profiles.yml", "packages.yml"):
        shutil.copy2(project().root / name, root / name)
    return Project(root)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A data folder with one batch and a warehouse file."""
    for variable in ("TMDB_LANDING_DIR", "TMDB_DUCKDB_PATH", "TMDB_SPARK_DIR"):
        monkeypatch.delenv(variable, raising=False)
    data_root = DataRoot(tmp_path / "data")
    folder = data_root.for_source("sample")
    (folder.landing / "batch=b000001").mkdir(parents=True)
    folder.warehouse.write_bytes(b"a warehouse")
    return folder


@pytest.fixture
def stamp(workspace: Workspace, copy: Project) -> BuildStamp:
    recorded = BuildStamp(workspace, for_name("duckdb"), copy)
    recorded.record("installed")
    return recorded


def why(stamp: BuildStamp, packages: str = "installed") -> str | None:
    return stamp.why_build(packages)


def test_nothing_changed_since_the_green_build_means_skip(stamp: BuildStamp) -> None:
    assert why(stamp) is None


def test_a_new_batch_means_build(stamp: BuildStamp, workspace: Workspace) -> None:
    (workspace.landing / "batch=b000002").mkdir()
    assert why(stamp) == "batch b000002 is not in the warehouse yet"


@pytest.mark.parametrize(
    ("edited", "named"),
    [
        ("models/core/dim_titles.sql", "models/core/dim_titles.sql (changed)"),
        ("macros/cleaning", "macros/cleaning/new_file.sql (new)"),
        ("seeds", "seeds/new_file.sql (new)"),
        ("dbt_project.yml", "dbt_project.yml (changed)"),
        ("tests/dbt", "tests/dbt/new_file.sql (new)"),
    ],
)
def test_an_edited_or_added_project_file_means_build_naming_the_file(
    stamp: BuildStamp, copy: Project, edited: str, named: str
) -> None:
    edit_project(copy, edited)
    assert why(stamp) == f"project files changed since the last green build: {named}"


def edit_project(copy: Project, edited: str) -> None:
    """Append a line to a project file, or add a file to a project folder."""
    target = copy.root / edited
    if target.is_dir():
        (target / "new_file.sql").write_text("{% macro new_macro() %}1{% endmacro %}\n")
    else:
        target.write_text(target.read_text() + "\n-- edited\n")


def test_other_dbt_packages_mean_build(stamp: BuildStamp) -> None:
    assert why(stamp, packages="unavailable") == (
        "the dbt packages are unavailable now, installed at the last green build"
    )


def test_a_warehouse_written_by_hand_or_removed_means_build(stamp: BuildStamp, workspace: Workspace) -> None:
    stat = workspace.warehouse.stat()
    os.utime(workspace.warehouse, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert "the warehouse was written since the last green build" in (why(stamp) or "")
    workspace.warehouse.unlink()
    assert why(stamp) == "the warehouse is missing"


def test_a_build_that_started_and_did_not_end_green_means_build(stamp: BuildStamp) -> None:
    stamp.forget()  # what every build does before dbt starts
    assert why(stamp) == "the last build did not end green (it failed, or was stopped)"


def test_dbt_run_by_hand_is_named(stamp: BuildStamp) -> None:
    stamp.forget("`tmdb dbt run -s dim_titles` ran by hand since")
    assert why(stamp) == "`tmdb dbt run -s dim_titles` ran by hand since"


def test_another_warehouse_path_means_build(
    stamp: BuildStamp, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    moved = workspace.root / "elsewhere.duckdb"
    shutil.copy2(workspace.warehouse, moved)
    monkeypatch.setenv("TMDB_DUCKDB_PATH", str(moved))
    assert (why(stamp) or "").startswith(f"the warehouse is now {moved}")


def test_a_stamp_of_the_other_target_does_not_count(
    stamp: BuildStamp, workspace: Workspace, copy: Project
) -> None:
    assert BuildStamp(workspace, for_name("spark"), copy).why_build("installed") == (
        "no green build is recorded for this warehouse"
    )


def test_an_unreadable_stamp_means_build(stamp: BuildStamp, workspace: Workspace) -> None:
    workspace.stamp_file("duckdb").write_text("{not json")
    assert why(stamp) == "no green build is recorded for this warehouse"


# Unit tests: left out of a build only when the code is that of the last green build.


def test_new_data_with_the_same_code_leaves_the_unit_tests_out(
    stamp: BuildStamp, workspace: Workspace
) -> None:
    (workspace.landing / "batch=b000002").mkdir()
    workspace.warehouse.write_bytes(b"a warehouse with more rows")
    assert why(stamp) is not None  # a build, then
    assert stamp.code_unchanged("installed")  # but its unit tests would give what they gave last time


@pytest.mark.parametrize("edited", ["models/intermediate/int_titles_unioned.sql", "macros", "profiles.yml"])
def test_edited_code_runs_the_unit_tests(stamp: BuildStamp, copy: Project, edited: str) -> None:
    edit_project(copy, edited)
    assert not stamp.code_unchanged("installed")


def test_other_packages_or_target_run_the_unit_tests(
    stamp: BuildStamp, workspace: Workspace, copy: Project
) -> None:
    assert not stamp.code_unchanged("unavailable")
    assert not BuildStamp(workspace, for_name("spark"), copy).code_unchanged("installed")


def test_another_dbt_version_runs_the_unit_tests(stamp: BuildStamp, monkeypatch: pytest.MonkeyPatch) -> None:
    real_versions = build_stamp.tool_versions()
    monkeypatch.setattr(build_stamp, "tool_versions", lambda: {**real_versions, "dbt-core": "0.0.0"})
    assert not stamp.code_unchanged("installed")
    assert why(stamp) == f"dbt-core is 0.0.0 now, {real_versions['dbt-core']} at the last green build"


def test_no_green_build_runs_the_unit_tests(stamp: BuildStamp) -> None:
    assert stamp.code_unchanged("installed")
    stamp.forget()  # a build started and did not end green
    assert not stamp.code_unchanged("installed")


def test_a_stamp_that_cannot_be_written_is_a_clear_error_and_the_next_run_builds(
    stamp: BuildStamp, workspace: Workspace, copy: Project
) -> None:
    """The fault campaign turned the data folder read-only while dbt built (dbt kept writing through the
    file it held open): recording the green build then ended in a traceback."""
    stamp.forget()
    blocked = BuildStamp(workspace, for_name("duckdb"), copy)
    blocked.path = workspace.root / "a-file" / blocked.path.name  # a folder that cannot be made
    (workspace.root / "a-file").write_text("not a folder")
    with pytest.raises(
        build_stamp.UserError, match=r"Cannot write the build record .*the next run builds again"
    ):
        blocked.record("installed")
    assert why(stamp) == "the last build did not end green (it failed, or was stopped)"


def test_a_warehouse_file_that_is_no_database_is_set_aside_and_a_new_one_built(workspace: Workspace) -> None:
    """A build that died creating the DuckDB file (a full disk) leaves a file DuckDB cannot open: the next
    build keeps it aside, named, and starts a new warehouse rather than refuse it as locked."""
    wal = workspace.warehouse.with_name(f"{workspace.warehouse.name}.wal")
    wal.write_bytes(b"a log")
    for_name("duckdb").prepare(workspace)
    assert not workspace.warehouse.exists() and not wal.exists()
    kept = sorted(p.name for p in workspace.warehouse.parent.glob(".damaged-*"))
    assert [name.split("-", 2)[2] for name in kept] == ["tmdb.duckdb", "tmdb.duckdb.wal"]
    assert (workspace.warehouse.parent / kept[0]).read_bytes() == b"a warehouse"
