"""Where dbt's packages come from, and the dbt command lines built when dbt-expectations is installed and
when it is not."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tmdb_pipeline.project import Project, project
from tmdb_pipeline.warehouse import dbt, packages
from tmdb_pipeline.warehouse.dbt import EXPECTATIONS_SELECTOR
from tmdb_pipeline.warehouse.packages import Packages

OFFLINE = Packages("unavailable", "no dbt Hub")
INSTALLED = Packages("installed", "dbt_packages/")


def excluded(command: list[str]) -> list[str]:
    """Every selector given to --exclude (one flag may carry several, up to the next option)."""
    found: list[str] = []
    taking = False
    for word in command:
        if word.startswith("-"):
            taking = word == "--exclude"
        elif taking:
            found.append(word)
    return found


@pytest.mark.parametrize(
    "args",
    [["build"], ["test", "--select", "core"], ["docs", "generate"], ["build", "--exclude", "tag:raw"]],
)
def test_without_the_package_its_tests_are_left_out_of_every_selecting_command(args: list[str]) -> None:
    command = dbt.command(args, OFFLINE, project())
    assert excluded(command).count(EXPECTATIONS_SELECTOR) == 1
    assert str(project().offline_view) in command  # the project view without packages.yml
    if "tag:raw" in args:
        assert "tag:raw" in excluded(command)


@pytest.mark.parametrize("args", [["docs", "serve"], ["parse"], ["debug"]])
def test_commands_that_take_no_selector_get_none(args: list[str]) -> None:
    assert EXPECTATIONS_SELECTOR not in dbt.command(args, OFFLINE, project())


@pytest.mark.parametrize("args", [["--version"], ["--help"], []])
def test_dbts_own_options_are_passed_as_given(args: list[str]) -> None:
    assert dbt.command(args, OFFLINE, project())[1:] == args


def test_with_the_package_installed_the_command_is_left_as_given() -> None:
    command = dbt.command(["build", "--select", "marts"], INSTALLED, project())
    assert command[1:] == ["build", "--select", "marts"]


# Where the packages come from when dbt_packages/ lacks them and no mirror is set.


@pytest.fixture
def empty(tmp_path: Path) -> Project:
    """A project whose dbt_packages/ is empty."""
    return Project(tmp_path)


@pytest.fixture
def no_packages(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """No mirror, no proxy; returns the commands that would have run."""
    for name in ("DBT_PACKAGES_MIRROR", "TMDB_SKIP_DBT_DEPS", *packages.PROXY_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    ran: list[list[str]] = []

    def fake_run(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        ran.append(command)
        return subprocess.CompletedProcess(command, 1, "", "dbt deps failed for a reason of its own")

    monkeypatch.setattr(packages.subprocess, "run", fake_run)
    return ran


def _no_route(address: tuple[str, int], timeout: float) -> socket.socket:
    raise OSError(101, "Network is unreachable")


def test_without_a_route_to_the_hub_dbt_deps_is_not_even_started(
    empty: Project, no_packages: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packages.socket, "create_connection", _no_route)
    found = packages.prepare(empty)
    assert found.mode == "unavailable"
    assert packages.HUB_HOST in found.detail and "Network is unreachable" in found.detail
    assert no_packages == []


def test_behind_a_proxy_dbt_deps_decides(
    empty: Project, no_packages: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packages.socket, "create_connection", _no_route)  # direct route blocked ...
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")  # ... but a proxy may get through
    found = packages.prepare(empty)
    assert [command[-1] for command in no_packages] == ["deps"]
    assert found.mode == "unavailable" and "a reason of its own" in found.detail


def test_a_mirror_without_the_packages_is_a_clear_error(
    empty: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tmdb_pipeline.errors import UserError

    (tmp_path / "mirror" / "something").mkdir(parents=True)
    monkeypatch.setenv("DBT_PACKAGES_MIRROR", str(tmp_path / "mirror"))
    with pytest.raises(UserError, match="holds no package named dbt_expectations, dbt_date"):
        packages.prepare(empty)
