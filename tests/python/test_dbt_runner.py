"""The dbt command lines the runner builds when dbt-expectations is installed, and when it is not."""

from __future__ import annotations

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
