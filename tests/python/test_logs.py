"""Where the pipeline's messages go: through one handler, on standard output in order with what a command
prints, or on standard error for a command that answers an orchestrator with one JSON line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tmdb_pipeline import cli, logs


@pytest.fixture(autouse=True)
def pipeline_logger() -> Iterator[logging.Logger]:
    """The package's logger as it was before the test: a test's handler does not outlive it."""
    logger = logging.getLogger(logs.PACKAGE)
    handlers, level = list(logger.handlers), logger.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


@pytest.fixture
def sample_data(no_kaggle_credentials: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMDB_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("TMDB_SAMPLE_SIZE", "60")


def test_a_json_answer_is_alone_on_stdout_and_the_messages_go_to_stderr(
    sample_data: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["get", "--source", "sample", "--json"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1 and json.loads(out)["kind"] == "sample"
    assert err.startswith("Generated the built-in synthetic sample (60 movies + 15 series, seed 42) in ")


def test_without_json_the_messages_come_first_on_stdout_then_the_answer(
    sample_data: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["get", "--source", "auto"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith("No Kaggle credentials found: using the built-in synthetic sample")
    assert lines[1].startswith("Generated the built-in synthetic sample")
    assert lines[-1].startswith("built-in synthetic sample (60 movies + 15 series, seed 42): ")
    assert err == ""


def test_a_message_is_written_once_as_it_was_said_and_configuring_again_moves_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("stdout")
    logs.configure("stderr")
    logging.getLogger("tmdb_pipeline.stage.batch").info("Staged batch b000001: %d files", 3)
    logging.getLogger("tmdb_pipeline.stage.manifests").warning("Warning: cannot read a manifest")
    logging.getLogger("tmdb_pipeline.stage.batch").debug("not shown")
    assert capsys.readouterr() == ("", "Staged batch b000001: 3 files\nWarning: cannot read a manifest\n")
