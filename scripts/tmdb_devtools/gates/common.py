"""What every gate uses: its result, running a tool in the project folder, reading what the tool printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Each gate's pytest run leaves a JUnit report here, for the slowest tests of the whole `make test`.
TEST_REPORTS = Path("target") / "gate-tests"


@dataclass
class GateResult:
    ok: bool
    problems: list[str] = field(default_factory=list)  # one line each, naming the file at fault


def say(message: str = "") -> None:
    print(message, flush=True)


def tmdb(*args: str) -> list[str]:
    """The pipeline's own command, run by this interpreter (the project's venv)."""
    return [sys.executable, "-m", "tmdb_pipeline", *args]


def pytest(root: Path, report: str, *args: str, python: str = sys.executable) -> list[str]:
    """pytest (of `python`'s venv) on `args`, writing its JUnit report as TEST_REPORTS/<report>.xml."""
    return [python, "-m", "pytest", f"--junitxml={root / TEST_REPORTS / report}.xml", *args]


def slowest_tests(root: Path, reports: Sequence[str], count: int = 5) -> list[tuple[float, str]]:
    """The `count` slowest tests in the named JUnit reports (TEST_REPORTS/<name>.xml): (seconds,
    file::test). A test's time counts its setup, so a fixture shared by several tests is charged to the
    first test that asked for it."""
    times: list[tuple[float, str]] = []
    for name in reports:
        try:
            cases = ET.parse(root / TEST_REPORTS / f"{name}.xml").getroot().iter("testcase")
        except (OSError, ET.ParseError):
            continue  # no tests in that gate, or it was killed while writing: its own result says so
        for case in cases:
            where = (case.get("classname") or "").replace(".", "/")
            times.append((float(case.get("time") or 0), f"{where}.py::{case.get('name')}"))
    return sorted(times, reverse=True)[:count]


def run(
    command: Sequence[str],
    root: Path,
    *,
    capture: bool = True,
    merge_stderr: bool = True,
    env: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Run a command in the project folder `root`; its output is returned (capture) or goes straight to the
    terminal. The pipeline's own command works on `root` too (TMDB_PROJECT_DIR), e.g. a copy under test.

    With merge_stderr=False, stderr is collected apart and put after stdout (so JSON on stdout stays whole).
    """
    full_env = {**os.environ, "TMDB_PROJECT_DIR": str(root), **(env or {})}
    try:
        done = subprocess.run(
            list(command),
            cwd=root,
            env=full_env,
            text=True,
            check=False,
            stdout=subprocess.PIPE if capture else None,
            stderr=(subprocess.STDOUT if merge_stderr else subprocess.PIPE) if capture else None,
        )
    except FileNotFoundError:
        return 127, f"{command[0]}: not installed (run `make venv-dev`)"
    output = done.stdout or ""
    if done.stderr:
        output += "\n" + done.stderr
    return done.returncode, output


def json_in(output: str, opening: str) -> object | None:
    """The first JSON value in a tool's output, starting with `opening` ('[' or '{'); the rest is ignored."""
    start = output.find(opening)
    if start < 0:
        return None
    try:
        return json.JSONDecoder().raw_decode(output[start:])[0]
    except json.JSONDecodeError:
        return None


def relative(path: str, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return path
