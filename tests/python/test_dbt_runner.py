"""The dbt command lines the runner builds when dbt-expectations is installed, and when it is not."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tmdb_pipeline import dbt_runner
from tmdb_pipeline.dbt_runner import EXPECTATIONS_SELECTOR, Packages

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
    command = dbt_runner.dbt_command(args, OFFLINE)
    assert excluded(command).count(EXPECTATIONS_SELECTOR) == 1
    assert str(dbt_runner.OFFLINE_PROJECT) in command  # the project view without packages.yml
    if "tag:raw" in args:
        assert "tag:raw" in excluded(command)


@pytest.mark.parametrize("args", [["docs", "serve"], ["parse"], ["debug"]])
def test_commands_that_take_no_selector_get_none(args: list[str]) -> None:
    assert EXPECTATIONS_SELECTOR not in dbt_runner.dbt_command(args, OFFLINE)


def test_with_the_package_installed_the_command_is_left_as_given() -> None:
    command = dbt_runner.dbt_command(["build", "--select", "marts"], INSTALLED)
    assert command[1:] == ["build", "--select", "marts"]


# Where the packages come from when dbt_packages/ lacks them and no mirror is set.


@pytest.fixture
def no_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[list[str]]:
    """dbt_packages/ empty, no mirror, no proxy; returns the commands the runner would have run."""
    monkeypatch.setattr(dbt_runner, "PACKAGES_DIR", tmp_path / "dbt_packages")
    for name in ("DBT_PACKAGES_MIRROR", "TMDB_SKIP_DBT_DEPS", *dbt_runner.PROXY_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    ran: list[list[str]] = []

    def fake_run(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        ran.append(command)
        return subprocess.CompletedProcess(command, 1, "", "dbt deps failed for a reason of its own")

    monkeypatch.setattr(dbt_runner.subprocess, "run", fake_run)
    return ran


def _no_route(address: tuple[str, int], timeout: float) -> socket.socket:
    raise OSError(101, "Network is unreachable")


def test_without_a_route_to_the_hub_dbt_deps_is_not_even_started(
    no_packages: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dbt_runner.socket, "create_connection", _no_route)
    packages = dbt_runner.prepare_packages(lambda _: None)
    assert packages.mode == "unavailable"
    assert dbt_runner.HUB_HOST in packages.detail and "Network is unreachable" in packages.detail
    assert no_packages == []


def test_behind_a_proxy_dbt_deps_decides(
    no_packages: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dbt_runner.socket, "create_connection", _no_route)  # direct route blocked ...
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")  # ... but a proxy may get through
    packages = dbt_runner.prepare_packages(lambda _: None)
    assert [command[-1] for command in no_packages] == ["deps"]
    assert packages.mode == "unavailable" and "a reason of its own" in packages.detail
