"""The quality gates catch what they are for, and name the file at fault.

Each defect is planted in a temporary copy of the project (the real tree is never touched), and the gate
functions of tmdb_devtools.gates run against that copy.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tmdb_devtools import browser, gates, secrets
from tmdb_devtools.gates import builds, common, static
from tmdb_devtools.gates.common import GateResult
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.project import project

REPO_ROOT = project().root

NOT_COPIED = {
    ".git",
    ".venv",
    "data",
    "target",
    "dbt_packages",
    ".dbt_offline",
    "logs",
    ".ruff_cache",
    ".pytest_cache",
}

MISSTYLED = "models/staging/stg_tmdb__zz_misstyled.sql"
NO_PK = "models/staging/stg_tmdb__zz_no_pk.sql"
UNDOCUMENTED = "models/staging/stg_tmdb__zz_undocumented.sql"
LOW_SCORE = "models/staging/stg_tmdb__zz_low_score.sql"
# `pull_requests` is no event, and steps must be a list.
TYPO_WORKFLOW = (
    "name: typo\non: pull_requests\njobs:\n  build:\n    runs-on: ubuntu-24.04\n    steps: echo hi\n"
)
FIXTURE_PROPERTIES = "models/staging/_zz_fixture__models.yml"

TIDY_MODEL = """\
with movies as (

    select * from {{ ref('raw_tmdb__movies') }}

),

final as (

    select
        movies.tmdb_id,
        movies.source_file as title
    from movies

)

select * from final
"""


def copy_project(destination: Path) -> Path:
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {name for name in names if name in NOT_COPIED or name == "__pycache__"}

    shutil.copytree(REPO_ROOT, destination, ignore=ignore, symlinks=True)
    return destination


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture(scope="module")
def broken_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("project") / "repo")
    # Upper-case keywords, a leading comma, no `as` before an alias, a 130-character line.
    write(
        root,
        MISSTYLED,
        "SELECT movies.tmdb_id\n    , movies.source_file TITLE\n"
        f"FROM {{{{ ref('raw_tmdb__movies') }}}} movies WHERE movies.source_file != '{'x' * 80}'\n",
    )
    write(root, NO_PK, TIDY_MODEL)
    write(root, UNDOCUMENTED, TIDY_MODEL)
    write(root, LOW_SCORE, TIDY_MODEL)
    write(
        root,
        FIXTURE_PROPERTIES,
        """\
        models:
          - name: stg_tmdb__zz_no_pk
            description: A documented model whose key is not tested.
            config:
              meta:
                owner: quality-gates
            columns:
              - name: tmdb_id
                description: The TMDB id of the movie.
              - name: title
                description: The title of the movie.
          - name: stg_tmdb__zz_undocumented
            description: A model whose key is tested but one column is not described.
            columns:
              - name: tmdb_id
                description: The TMDB id of the movie.
                data_tests: [unique, not_null]
              - name: title
          - name: stg_tmdb__zz_low_score
            columns:
              - name: tmdb_id
                data_tests: [unique, not_null]
              - name: title
          - name: stg_tmdb__zz_misstyled
            description: A model written against the house style.
            columns:
              - name: tmdb_id
                description: The TMDB id of the movie.
                data_tests: [unique, not_null]
              - name: title
                description: The title of the movie.
        """,
    )
    return root


@pytest.fixture(scope="module")
def conventions(broken_project: Path) -> Iterator[GateResult]:
    with pytest.MonkeyPatch.context() as patch:
        # The copy has no dbt_packages/: parse without them rather than wait for the unreachable dbt Hub.
        patch.setenv("TMDB_SKIP_DBT_DEPS", "1")
        patch.delenv("DBT_PACKAGES_MIRROR", raising=False)
        yield static.check_conventions(broken_project)


def problems_about(result: GateResult, relative: str) -> list[str]:
    return [problem for problem in result.problems if relative in problem]


def test_misstyled_model_fails_sqlfluff_naming_the_file(broken_project: Path) -> None:
    # the staging folder only: the gate itself lints the whole project every run
    result = static.lint_sql(broken_project, ("models/staging",))
    assert not result.ok
    found = problems_about(result, MISSTYLED)
    codes = {problem.split(": ", 1)[1].split()[0] for problem in found}
    assert {"CP01", "LT04", "AL02", "LT05"} <= codes, found
    # The tidy models beside it are clean: the failure is the mis-styled file's alone.
    assert not problems_about(result, NO_PK)
    assert not problems_about(result, UNDOCUMENTED)


def test_model_without_primary_key_test_fails_conventions_naming_the_file(
    conventions: GateResult,
) -> None:
    assert not conventions.ok
    found = [p for p in problems_about(conventions, NO_PK) if "check_model_has_primary_key_test" in p]
    assert found, conventions.problems
    assert FIXTURE_PROPERTIES in found[0]
    # A model whose key is tested unique and not null passes the same check.
    assert not [p for p in problems_about(conventions, UNDOCUMENTED) if "primary_key" in p]


def test_undocumented_column_fails_conventions_naming_the_file(conventions: GateResult) -> None:
    found = [
        p
        for p in problems_about(conventions, UNDOCUMENTED)
        if "check_model_column_description_populated" in p
    ]
    assert found, conventions.problems
    assert FIXTURE_PROPERTIES in found[0]
    assert "title" in found[0]
    assert not [p for p in problems_about(conventions, NO_PK) if "column_description" in p]


def test_model_scoring_under_nine_fails_dbt_score_naming_the_file(conventions: GateResult) -> None:
    # No description, no column descriptions: dbt-score marks it well under 9.0.
    found = [p for p in problems_about(conventions, LOW_SCORE) if "dbt-score" in p]
    assert found, conventions.problems
    assert "has_description" in found[0]
    assert "columns_have_description" in found[0]
    # A documented model with an owner scores above the bar (its missing key test is the bouncer's business).
    assert not [p for p in problems_about(conventions, NO_PK) if "dbt-score" in p]


def test_unformatted_python_fails_ruff_naming_the_file(tmp_path: Path) -> None:
    write(tmp_path, "scripts/sloppy.py", "import os\nx = {  'a':1}\n")
    write(tmp_path, "scripts/tidy.py", 'X = {"a": 1}\n')
    result = static.lint_python(tmp_path)
    assert not result.ok
    assert any(p.startswith("scripts/sloppy.py:1:8: F401") for p in result.problems), result.problems
    assert any(p.startswith("scripts/sloppy.py:") and "unformatted" in p for p in result.problems), (
        result.problems
    )
    assert not [p for p in result.problems if "tidy.py" in p]


def test_unpinned_workflow_fails_the_workflow_gate_naming_the_file(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(
        root,
        ".github/workflows/bad.yml",
        """\
        name: bad
        on: pull_request
        jobs:
          build:
            runs-on: ubuntu-24.04
            steps:
              - uses: actions/checkout@v4
              - run: echo "${{ github.event.pull_request.title }}"
        """,
    )
    result = static.check_workflows(root)
    assert not result.ok
    assert any(".github/workflows/bad.yml" in problem for problem in result.problems), result.problems


def test_invalid_workflow_fails_schema_validation_naming_the_file(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(
        root,
        ".github/workflows/typo.yml",
        TYPO_WORKFLOW,
    )
    result = static.check_workflows(root)
    assert not result.ok
    assert any(".github/workflows/typo.yml" in problem for problem in result.problems), result.problems


def test_main_prints_one_line_per_gate_and_the_count_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "repo"
    write(
        root,
        ".github/workflows/typo.yml",
        TYPO_WORKFLOW,
    )
    assert gates.run_gates("workflows", root=root) == 1
    lines = capsys.readouterr().out.rstrip().splitlines()
    assert lines[-1] == "gates: 0 passed, 1 failed"
    assert any(line.startswith("FAIL  workflows") and line.endswith(" s") for line in lines)


def test_credentials_guard_names_each_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_header = "-----BEGIN " + "OPENSSH PRIVATE KEY-----"
    (tmp_path / "deploy_key").write_text(f"{key_header}\nabc\n", encoding="utf-8")
    (tmp_path / "kaggle.json").write_text(
        '{"username": "someone", "key": "' + "0f" * 16 + '"}\n', encoding="utf-8"
    )
    (tmp_path / "settings.env").write_text("KAGGLE_USERNAME=someone\nKAGGLE_" + "KEY=" + "1a2b" * 8 + "\n")
    (tmp_path / "ci.yml").write_text(
        'env:\n  KAGGLE_KEY: ${{ secrets.KAGGLE_KEY }}\nrun: [ "$HAS_KAGGLE_KEY" = "true" ]\n',
        encoding="utf-8",
    )
    (tmp_path / "code.py").write_text('env = {"KAGGLE_KEY": token}\n', encoding="utf-8")
    names = [
        str(tmp_path / name) for name in ("deploy_key", "kaggle.json", "settings.env", "ci.yml", "code.py")
    ]
    assert secrets.check(names) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'deploy_key'}:1: a private key" in out
    assert f"{tmp_path / 'kaggle.json'}: a Kaggle credentials file" in out
    assert f"{tmp_path / 'kaggle.json'}:1: a Kaggle API token" in out
    assert f"{tmp_path / 'settings.env'}:2: a literal KAGGLE_KEY value" in out
    assert "ci.yml" not in out
    assert "code.py" not in out


def test_gates_are_chosen_by_only_and_skip() -> None:
    def names(only: str | None, skip: str | None = None) -> list[str]:
        return [gate.name for gate in gates._selected(only, skip)]

    everything = [gate.name for gate in gates.GATES]
    lane = [gate.name for gate in gates.GATES if gate.beside]
    assert lane == ["airflow", "containers"], "the self-contained gates run in the second lane"
    assert [gate.name for gate in gates.OPT_IN_GATES if gate.beside] == ["spark-cluster"]  # last in it
    assert names(None) == everything
    assert names("static") == ["sqlfluff", "ruff", "conventions", "workflows"]
    assert names(None, "spark") == [n for n in everything if n != "spark"]  # CI: spark is a job of its own
    assert names("spark") == ["spark"]
    assert names(None, None) == names(None, "spark-cluster")  # opt-in: only when named
    assert [g.name for g in gates._selected(None, None, "spark-cluster")] == [*everything, "spark-cluster"]
    assert [g.name for g in gates._selected("ruff", None, "spark-cluster")] == ["ruff", "spark-cluster"]
    assert names("containers") == ["containers"]  # make test-containers; CI's GitHub job with Docker
    assert names("static,pytest", "ruff") == ["sqlfluff", "conventions", "workflows", "pytest"]
    with pytest.raises(UserError, match="unknown gate sparks"):
        gates._selected(None, "sparks")


def test_spark_tests_run_in_the_spark_gate_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    commands: list[tuple[list[str], dict[str, str]]] = []

    def fake_run(command: list[str], root: Path, **kwargs: Any) -> tuple[int, str]:
        commands.append((list(command), dict(kwargs.get("env") or {})))
        return 0, ""

    monkeypatch.setattr(builds, "run", fake_run)
    monkeypatch.setattr(builds.spark, "unavailable_reason", lambda: None)
    assert builds.run_pytest(tmp_path).ok and builds.check_spark(tmp_path).ok
    (pytest_command, _), (spark_command, spark_env) = commands
    assert pytest_command[pytest_command.index(builds.SPARK_TESTS) - 1] == "--ignore"
    assert spark_command[-1] == builds.SPARK_TESTS and spark_env == {"TMDB_REQUIRE_SPARK": "1"}


def test_spark_gate_fails_rather_than_skips_where_spark_cannot_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(builds, "run", lambda *args, **kwargs: (0, ""))  # its Spark-free tests pass
    reason = "Spark needs Java 17 or newer (found: no `java` on PATH and no JAVA_HOME)"
    monkeypatch.setattr(builds.spark, "unavailable_reason", lambda: reason)
    result = builds.check_spark(tmp_path)
    assert not result.ok
    assert result.problems == [f"{builds.SPARK_TESTS}: {reason}"]


def test_dashboard_tests_run_in_the_dashboard_gate_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    commands: list[list[str]] = []
    monkeypatch.setattr(
        builds, "run", lambda command, root, **kwargs: commands.append(list(command)) or (0, "")
    )
    monkeypatch.setattr(builds, "dashboard_unavailable", lambda: None)
    assert builds.run_pytest(tmp_path).ok and builds.check_dashboard(tmp_path).ok
    pytest_command, dashboard_command = commands
    for test in builds.DASHBOARD_TESTS:
        assert pytest_command[pytest_command.index(test) - 1] == "--ignore"
    assert dashboard_command[-2:] == list(builds.DASHBOARD_TESTS)
    names = [gate.name for gate in gates.GATES]
    assert names.index("catalog conventions") < names.index("dashboard") < names.index("spark")


def test_dashboard_gate_fails_rather_than_skips_naming_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TMDB_CHROMIUM", "/nonexistent/chrome")
    monkeypatch.setattr(browser.os.path, "isfile", lambda path: False)
    monkeypatch.setattr(builds.importlib.util, "find_spec", lambda name: None)
    reason = builds.dashboard_unavailable()
    assert reason and "streamlit, altair, playwright not installed" in reason
    assert "make venv-dashboard" in reason and "apt-get install -y chromium" in reason
    monkeypatch.setattr(builds, "run", lambda *args, **kwargs: pytest.fail("ran the tests without a browser"))
    result = builds.check_dashboard(REPO_ROOT)
    assert not result.ok and "apt-get install -y chromium" in result.problems[0]


def test_the_slowest_tests_come_from_every_gates_junit_report(tmp_path: Path) -> None:
    reports = tmp_path / common.TEST_REPORTS
    reports.mkdir(parents=True)
    case = '<testcase classname="tests.python.test_{0}" name="test_{1}" time="{2}" />'
    for gate, cases in {
        "pytest": [("a", "one", 3.5), ("a", "two", 0.2)],
        "spark": [("b", "parity", 90)],
    }.items():
        body = "".join(case.format(*c) for c in cases)
        (reports / f"{gate}.xml").write_text(
            f'<testsuites><testsuite name="pytest">{body}</testsuite></testsuites>'
        )
    (reports / "airflow.xml").write_text("<testsuites><testsuite")  # a gate killed mid-write
    assert common.slowest_tests(tmp_path, ["pytest", "spark", "airflow", "dashboard"], count=2) == [
        (90.0, "tests/python/test_b.py::test_parity"),
        (3.5, "tests/python/test_a.py::test_one"),
    ]
    command = common.pytest(tmp_path, "spark", "tests/python/test_spark_parity.py")
    assert command[-2:] == [f"--junitxml={reports / 'spark'}.xml", "tests/python/test_spark_parity.py"]


def repo_with_a_typo_in_a_workflow(tmp_path: Path) -> Path:
    """A project the ruff gate passes and the workflows gate fails."""
    root = tmp_path / "repo"
    write(root, ".github/workflows/typo.yml", TYPO_WORKFLOW)
    write(root, "tidy.py", "x = 1\n")
    write(root, "dbt_project.yml", "name: gate_fixture\n")  # what makes `tmdb` take root as the project
    return root


def test_a_gate_run_beside_the_others_reports_its_output_and_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = repo_with_a_typo_in_a_workflow(tmp_path)
    beside = [dataclasses.replace(g, beside=g.name == "workflows") for g in gates.GATES]
    monkeypatch.setattr(gates, "GATES", tuple(beside))
    assert gates.run_gates("ruff,workflows", root=root) == 1
    out = capsys.readouterr().out
    log = root / gates.GATE_LOGS / "workflows.log"
    # its own process wrote the log, shown whole after the gates of this process
    assert ".github/workflows/typo.yml" in log.read_text()
    assert out.index("=== ruff") < out.index("=== workflows (ran beside the others)")
    assert re.search(r"^PASS  ruff .* s$", out, re.MULTILINE)
    assert re.search(r"^FAIL  workflows .* s \(beside the others\)$", out, re.MULTILINE)
    assert out.rstrip().splitlines()[-1] == "gates: 1 passed, 1 failed"


def test_the_gates_of_the_second_lane_run_one_after_another_beside_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = repo_with_a_typo_in_a_workflow(tmp_path)
    lane = [dataclasses.replace(g, beside=g.name in ("ruff", "workflows")) for g in gates.GATES]
    first_lane_ran: list[bool] = []

    def first_lane_gate(_: Path) -> GateResult:
        first_lane_ran.append(True)
        return GateResult(True, [])

    monkeypatch.setattr(gates, "GATES", (gates.Gate("first", first_lane_gate, False), *lane))
    spans: dict[str, tuple[float, float]] = {}
    wait = gates.Beside.wait

    def timed_wait(self: gates.Beside) -> tuple[GateResult, float]:
        result = wait(self)
        spans[self.gate.name] = (self.started, time.monotonic())
        return result

    monkeypatch.setattr(gates.Beside, "wait", timed_wait)
    assert gates.run_gates("first,ruff,workflows", root=root) == 1
    out = capsys.readouterr().out
    assert first_lane_ran == [True]
    assert spans["ruff"][1] <= spans["workflows"][0]  # one after another, in the gates' order
    assert out.index("=== ruff (ran beside the others)") < out.index("=== workflows (ran beside the others)")
    assert re.search(r"^PASS  ruff .* s \(beside the others\)$", out, re.MULTILINE)
    assert re.search(r"^FAIL  workflows .* s \(beside the others\)$", out, re.MULTILINE)
    assert out.rstrip().splitlines()[-1] == "gates: 2 passed, 1 failed"


@pytest.mark.parametrize("missing", ["podman", "runc", "debootstrap"])
def test_containers_gate_fails_rather_than_skips_naming_the_package(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.setenv("TMDB_CONTAINER_ENGINE", "podman")
    monkeypatch.delenv("TMDB_CONTAINER_BASE", raising=False)
    monkeypatch.setattr(
        builds.containers, "_which", lambda tool: None if tool == missing else f"/usr/bin/{tool}"
    )
    monkeypatch.setattr(builds, "run", lambda *args, **kwargs: pytest.fail("ran the tests without podman"))
    result = builds.check_containers(REPO_ROOT)
    assert not result.ok
    assert result.problems == [
        f"{builds.CONTAINERS_TESTS}: {missing} not found: install it (apt-get install -y "
        f"{'podman runc' if missing == 'podman' else missing} (Debian))"
    ]
    with pytest.raises(UserError, match=f"{missing} not found"):
        builds.containers.engine()
