"""`make test` / `make lint`: every quality gate in turn, then one PASS/FAIL line per gate.

Gates, in order: sqlfluff, ruff, conventions (dbt-bouncer + dbt-score on the parsed manifest), workflows
(check-jsonschema + zizmor), pytest, the dbt build of the built-in sample with every test, on the
warehouse that build made the catalog conventions (every column the warehouse has is documented), airflow
(tests/airflow: the Airflow DAG run end to end, with the Airflow venv), and spark (the same models built on
Spark and compared with DuckDB; it fails where Spark cannot run).
`--only static` runs the first four; `--only <gate>[,<gate>]` runs the named ones; `--skip <gate>[,...]`
leaves gates out (CI runs the spark gate as a job of its own). Every failure names the file at fault.
Exit status: 0 when every gate passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tmdb_pipeline import spark_env
from tmdb_pipeline.paths import REPO_ROOT

BIN = Path(sys.executable).parent
# The spark gate's tests: the `pytest` gate leaves them out, so they run once.
SPARK_TESTS = "tests/python/test_spark_parity.py"
SQL_DIRS = ("models", "tests/dbt", "analyses", "snapshots")
DOCS_DIR = Path("target") / "docs"
MIN_MODEL_SCORE = 9.0
# A tool's line about one place in one file: `path:line:col: ...`.
LOCATED = re.compile(r"^[^\s:]+:\d+:\d+: ")
# Checks whose failure is about a model's properties file rather than its SQL.
PROPERTIES_CHECKS = ("description", "documented", "column", "contract", "access", "primary_key", "test")


@dataclass
class GateResult:
    ok: bool
    problems: list[str] = field(default_factory=list)  # one line each, naming the file at fault


def _say(message: str = "") -> None:
    print(message, flush=True)


def _tool(name: str) -> str:
    local = BIN / name
    return str(local) if local.exists() else name


def _run(
    command: Sequence[str],
    root: Path,
    *,
    capture: bool = True,
    merge_stderr: bool = True,
    env: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Run a command in the project root; its output is returned (capture) or goes straight to the terminal.

    With merge_stderr=False, stderr is collected apart and put after stdout (so JSON on stdout stays whole).
    """
    full_env = {**os.environ, **(env or {})}
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
        return 127, f"{command[0]}: not installed (run `make venv`)"
    output = done.stdout or ""
    if done.stderr:
        output += "\n" + done.stderr
    return done.returncode, output


def _json_in(output: str, opening: str) -> object | None:
    """The first JSON value in a tool's output, starting with `opening` ('[' or '{'); the rest is ignored."""
    start = output.find(opening)
    if start < 0:
        return None
    try:
        return json.JSONDecoder().raw_decode(output[start:])[0]
    except json.JSONDecodeError:
        return None


def _relative(path: str, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return path


# --- sqlfluff -----------------------------------------------------------------------------------------


def lint_sql(root: Path = REPO_ROOT) -> GateResult:
    """sqlfluff on every model, test, analysis and snapshot: a line per violation (`file:line:col: CODE`)."""
    targets = [d for d in SQL_DIRS if any((root / d).rglob("*.sql"))]
    if not targets:
        return GateResult(False, ["models/: no SQL files found to lint"])
    command = [_tool("sqlfluff"), "lint", *targets, "--format", "json", "--processes", "2"]
    code, out = _run(command, root, merge_stderr=False)
    files = _json_in(out, "[")
    if not isinstance(files, list):
        return GateResult(False, [f".sqlfluff: sqlfluff did not run (exit {code}): {out.strip()[-2000:]}"])
    problems = []
    for linted in files:
        for v in linted.get("violations", []):
            line = v.get("start_line_no", v.get("line_no", 0))
            col = v.get("start_line_pos", v.get("line_pos", 0))
            problems.append(
                f"{_relative(linted['filepath'], root)}:{line}:{col}: {v['code']} {v['description']}"
            )
    for problem in problems:
        _say(problem)
    n_files = len(files)
    _say(f"sqlfluff: {n_files} files, {len(problems)} violations")
    return GateResult(code == 0 and not problems, problems)


# --- ruff ---------------------------------------------------------------------------------------------


def lint_python(root: Path = REPO_ROOT) -> GateResult:
    """`ruff check` and `ruff format --check`, one `file:line:col: ...` line per finding."""
    problems: list[str] = []
    concise = ["--output-format", "concise", "--no-cache", "."]
    code_check, out_check = _run([_tool("ruff"), "check", *concise], root)
    _say(out_check.rstrip())
    if code_check != 0:
        problems += [line for line in out_check.splitlines() if LOCATED.match(line)] or [
            f"ruff check failed (exit {code_check})"
        ]
    code_format, out_format = _run([_tool("ruff"), "format", "--check", *concise], root)
    _say(out_format.rstrip())
    if code_format != 0:
        problems += [line for line in out_format.splitlines() if LOCATED.match(line)] or [
            f"ruff format --check failed (exit {code_format})"
        ]
    return GateResult(code_check == 0 and code_format == 0, problems)


# --- conventions: dbt-bouncer + dbt-score -------------------------------------------------------------


def _dbt(args: Sequence[str], root: Path, target_path: Path) -> tuple[int, str]:
    """dbt through the pipeline's runner (packages installed, mirrored, or left out loudly)."""
    return _run(
        [
            sys.executable,
            str(root / "scripts" / "pipeline.py"),
            "dbt",
            *args,
            "--target-path",
            str(target_path),
        ],
        root,
        env={"DBT_TARGET_PATH": str(target_path), "DBT_LOG_PATH": str(root / "logs")},
    )


def _manifest_nodes(manifest_path: Path) -> dict[str, dict]:
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return {**manifest["nodes"], **manifest["sources"]}


def _at_fault(unique_id: str, check_name: str, fallback: str, nodes: dict[str, dict]) -> str:
    """The file to name for a failed check: the properties file for documentation/test/contract checks."""
    node = nodes.get(unique_id, {})
    sql_file = node.get("original_file_path") or fallback or unique_id
    properties = (node.get("patch_path") or "").split("://")[-1]
    if node.get("resource_type") == "source":
        return sql_file
    if properties and any(word in check_name for word in PROPERTIES_CHECKS):
        return f"{properties} (model {sql_file})"
    return sql_file


def _bouncer(root: Path, artifacts: Path, category: str, nodes: dict[str, dict]) -> GateResult:
    """dbt-bouncer's checks of one category (manifest_checks or catalog_checks) against `artifacts`."""
    config = yaml.safe_load((root / "dbt-bouncer.yml").read_text(encoding="utf-8"))
    config["dbt_artifacts_dir"] = str(artifacts)
    if config.get("custom_checks_dir"):
        config["custom_checks_dir"] = str(root / config["custom_checks_dir"])
    with tempfile.TemporaryDirectory() as tmp:
        config_file, report = Path(tmp) / "dbt-bouncer.yml", Path(tmp) / "report.json"
        config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
        code, out = _run(
            [
                _tool("dbt-bouncer"),
                "--config-file",
                str(config_file),
                "--only",
                category,
                "--output-file",
                str(report),
                "--output-only-failures",
            ],
            root,
            env={"NO_COLOR": "1", "COLUMNS": "200"},
        )
        failures = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else None
    if failures is None:
        return GateResult(
            False, [f"dbt-bouncer.yml: dbt-bouncer did not run (exit {code}):\n{out.strip()[-3000:]}"]
        )
    problems = []
    for failure in failures:
        check = failure["check_run_id"].split(":")[0]
        where = _at_fault(failure.get("unique_id", ""), check, failure.get("file_path", ""), nodes)
        problems.append(f"{where}: {check}: {failure['failure_message']}")
    for problem in problems:
        _say(problem)
    summary = [line.strip() for line in out.splitlines() if "SUCCESS=" in line]
    _say(f"dbt-bouncer {category}: {summary[-1].strip('│ ') if summary else f'exit {code}'}")
    return GateResult(code == 0 and not problems, problems)


def _score_threshold(root: Path) -> tuple[float | None, str]:
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return None, "pyproject.toml: missing, so dbt-score has no [tool.dbt-score] thresholds"
    try:
        import tomllib  # Python 3.11+, as dbt-score itself needs
    except ModuleNotFoundError:
        return None, "dbt-score needs Python 3.11 or later (it reads pyproject.toml with tomllib)"
    settings = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("dbt-score", {})
    threshold = settings.get("fail_any_item_under")
    if threshold is None or float(threshold) < MIN_MODEL_SCORE:
        return (
            None,
            f"pyproject.toml: [tool.dbt-score] fail_any_item_under must be >= {MIN_MODEL_SCORE}, "
            f"not {threshold}",
        )
    return float(threshold), ""


def _score(root: Path, manifest_path: Path, nodes: dict[str, dict]) -> GateResult:
    """dbt-score on every model and snapshot of the project, as a report; each must reach the threshold."""
    threshold, problem = _score_threshold(root)
    if threshold is None:
        return GateResult(False, [problem])
    names = sorted(
        n["name"]
        for n in nodes.values()
        if n["resource_type"] in ("model", "snapshot") and n["package_name"] == "tmdb"
    )
    if not names:
        return GateResult(False, ["models/: the manifest has no models to score"])
    selection = [arg for name in names for arg in ("--select", name)]
    code, out = _run(
        [_tool("dbt-score"), "lint", "-m", str(manifest_path), "-f", "json", *selection],
        root,
        merge_stderr=False,
    )
    report = _json_in(out, "{")
    if not isinstance(report, dict) or "evaluables" not in report:
        return GateResult(
            False, [f"pyproject.toml: dbt-score did not run (exit {code}): {out.strip()[-2000:]}"]
        )
    problems = []
    _say(f"dbt-score (each model must score >= {threshold}):")
    for unique_id, item in sorted(report["evaluables"].items(), key=lambda kv: kv[1]["score"]):
        warnings = [
            f"{rule.rsplit('.', 1)[-1]} ({result['severity']}): {result['message']}"
            for rule, result in item["results"].items()
            if result["result"] != "OK"
        ]
        path = nodes.get(unique_id, {}).get("original_file_path", unique_id)
        _say(
            f"  {item['score']:4.1f} {item['badge']} {path}"
            + (f"  -- {'; '.join(warnings)}" if warnings else "")
        )
        if item["score"] < threshold:
            problems.append(
                f"{_at_fault(unique_id, 'description', path, nodes)}: dbt-score {item['score']:.1f} < "
                f"{threshold}: {'; '.join(warnings)}"
            )
    project = report.get("project", {}).get("score")
    _say(f"  project score: {project:.1f}" if isinstance(project, (int, float)) else "")
    for line in problems:
        _say(line)
    return GateResult(not problems, problems)


def check_conventions(root: Path = REPO_ROOT) -> GateResult:
    """`dbt parse`, then dbt-bouncer's manifest checks and the dbt-score report."""
    target = root / "target"
    code, out = _dbt(["parse"], root, target)
    manifest_path = target / "manifest.json"
    if code != 0 or not manifest_path.is_file():
        _say(out.rstrip())
        return GateResult(
            False,
            [
                f"dbt parse failed (exit {code}): {_last_error(out)} "
                "(dbt's full message, naming the file when dbt knows it, is above)"
            ],
        )
    nodes = _manifest_nodes(manifest_path)
    bouncer = _bouncer(root, target, "manifest_checks", nodes)
    score = _score(root, manifest_path, nodes)
    return GateResult(bouncer.ok and score.ok, bouncer.problems + score.problems)


def check_catalog_conventions(root: Path = REPO_ROOT) -> GateResult:
    """The docs site of the warehouse just built (`pipeline.py docs --no-serve`), then the catalog checks."""
    docs = root / DOCS_DIR
    code, out = _run(
        [
            sys.executable,
            str(root / "scripts" / "pipeline.py"),
            "docs",
            "--no-serve",
            "--docs-dir",
            str(docs),
        ],
        root,
        env={"DBT_LOG_PATH": str(root / "logs")},
    )
    if code != 0 or not (docs / "catalog.json").is_file():
        _say(out.rstrip())
        return GateResult(False, [f"dbt docs generate failed (exit {code}): {_last_error(out)}"])
    _say(f"docs site written to {_relative(str(docs), root)}/ (index.html, manifest.json, catalog.json)")
    return _bouncer(root, docs, "catalog_checks", _manifest_nodes(docs / "manifest.json"))


def _last_error(output: str) -> str:
    """dbt's last error line and the line after it (dbt often puts the message on the next line)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    at = max((i for i, line in enumerate(lines) if "rror" in line), default=len(lines) - 1)
    return " ".join(lines[at : at + 2])[:400] if lines else "no output"


# --- workflows ----------------------------------------------------------------------------------------


def _zizmor_findings(output: str) -> list[str]:
    """`<file>:<line>:<col>: <severity>[<audit>]: <title>` for each finding; a load error names its file."""
    findings: list[str] = []
    title = ""
    for raw in output.splitlines():
        line = raw.strip()
        if line.startswith(("error[", "warning[", "help[", "info[")) or line.startswith("fatal:"):
            title = line
        elif line.startswith("-->") and ".github/workflows/" in line:
            findings.append(f"{line.removeprefix('-->').strip()}: {title}")
        elif "failed to load" in line and ".github/workflows/" in line and line not in findings:
            findings.append(line)
    return list(dict.fromkeys(findings))


def check_workflows(root: Path = REPO_ROOT) -> GateResult:
    """GitHub workflows: valid against the workflow schema, and no medium or high zizmor finding."""
    workflows = sorted((root / ".github" / "workflows").glob("*.y*ml"))
    if not workflows:
        return GateResult(False, [".github/workflows/: no workflow files"])
    problems: list[str] = []
    files = [str(w.relative_to(root)) for w in workflows]
    code, out = _run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files], root)
    _say(out.rstrip())
    if code != 0:
        problems += [line.strip() for line in out.splitlines() if ".github/workflows/" in line] or [
            f".github/workflows/: check-jsonschema failed (exit {code})"
        ]
    code, out = _run(
        [_tool("zizmor"), "--offline", "--min-severity", "medium", "--format", "plain", ".github/workflows"],
        root,
        env={"NO_COLOR": "1"},
    )
    _say(out.rstrip())
    if code != 0:
        problems += _zizmor_findings(out) or [f".github/workflows/: zizmor reported findings (exit {code})"]
    return GateResult(not problems, problems)


# --- pytest and the dbt build -------------------------------------------------------------------------


def run_pytest(root: Path = REPO_ROOT) -> GateResult:
    """pytest on tests/python but the spark gate's file; its output goes to the terminal unchanged."""
    code, _ = _run(
        [sys.executable, "-m", "pytest", "tests/python", "--ignore", SPARK_TESTS], root, capture=False
    )
    return GateResult(
        code == 0, [] if code == 0 else [f"tests/python: pytest failed (exit {code}); see above"]
    )


def check_spark(root: Path = REPO_ROOT) -> GateResult:
    """The Spark target: tests/python/test_spark_parity.py builds a generated sample on DuckDB and on Spark
    (one `dbt build` each with every test, then an incremental build) and compares the tables.

    A gate must not pass by skipping: where requirements-spark.txt or Java 17+ is missing, the gate fails
    with the reason (TMDB_REQUIRE_SPARK=1 makes the tests fail rather than skip); the Spark-free tests in
    the file still run.
    """
    unavailable = spark_env.unavailable_reason()
    if unavailable:
        _say(f"spark: cannot build on Spark here: {unavailable}")
    code, _ = _run(
        [sys.executable, "-m", "pytest", SPARK_TESTS],
        root,
        capture=False,
        env={"TMDB_REQUIRE_SPARK": "1"},
    )
    problems = [f"{SPARK_TESTS}: {unavailable}"] if unavailable else []
    if code != 0:
        problems.append(f"{SPARK_TESTS}: pytest failed (exit {code}); see above")
    return GateResult(code == 0 and not unavailable, problems)


def build_sample(root: Path = REPO_ROOT) -> GateResult:
    """`scripts/pipeline.py run --source sample`: stage the built-in sample, dbt build with every test."""
    code, _ = _run(
        [sys.executable, str(root / "scripts" / "pipeline.py"), "run", "--source", "sample", "--rebuild"],
        root,
        capture=False,
    )
    problems = (
        []
        if code == 0
        else [f"dbt build failed (exit {code}); the failing models and tests are listed above"]
    )
    return GateResult(code == 0, problems)


# --- airflow: the tmdb_warehouse DAG (orchestration/airflow/, tests/airflow) -----------------------------


def check_airflow(root: Path = REPO_ROOT) -> GateResult:
    """tests/airflow with the Airflow venv's pytest (`make airflow-venv` creates it): the DAG's shape, whole
    runs on the sample compared with `make run`, a failing dbt test, and the UI (REST trigger, screenshot)."""
    python = root / ".venv-airflow" / "bin" / "python"
    if not python.exists():
        return GateResult(False, [f"{python.parent.parent.name}/: missing; run `make airflow-venv`"])
    code, _ = _run([str(python), "-m", "pytest", "tests/airflow"], root, capture=False)
    return GateResult(
        code == 0, [] if code == 0 else [f"tests/airflow: pytest failed (exit {code}); see above"]
    )


@dataclass(frozen=True)
class Gate:
    name: str
    run: Callable[[Path], GateResult]
    static: bool


GATES = (
    Gate("sqlfluff", lint_sql, True),
    Gate("ruff", lint_python, True),
    Gate("conventions", check_conventions, True),
    Gate("workflows", check_workflows, True),
    Gate("pytest", run_pytest, False),
    Gate("dbt build", build_sample, False),
    Gate("catalog conventions", check_catalog_conventions, False),
    Gate("airflow", check_airflow, False),
    Gate("spark", check_spark, False),
)


def _names(listed: str | None) -> set[str]:
    """Gate names from a comma-separated list; `static` stands for the four static gates."""
    names: set[str] = set()
    for name in (w.strip() for w in (listed or "").split(",")):
        if name == "static":
            names |= {g.name for g in GATES if g.static}
        elif name:
            names.add(name)
    unknown = sorted(names - {g.name for g in GATES})
    if unknown:
        raise SystemExit(
            f"unknown gate {', '.join(unknown)}: use static, or any of {', '.join(g.name for g in GATES)}"
        )
    return names


def _selected(only: str | None, skip: str | None = None) -> list[Gate]:
    wanted, skipped = _names(only), _names(skip)
    return [g for g in GATES if (not wanted or g.name in wanted) and g.name not in skipped]


def main(argv: Sequence[str] | None = None, root: Path = REPO_ROOT) -> int:
    parser = argparse.ArgumentParser(prog="pipeline.py test", description=__doc__)
    parser.add_argument(
        "--only", help="static (sqlfluff, ruff, conventions, workflows) or gate names, comma-separated"
    )
    parser.add_argument("--skip", help="gates to leave out, comma-separated (e.g. spark)")
    args = parser.parse_args(argv)
    gates = _selected(args.only, args.skip)
    outcomes: list[tuple[Gate, GateResult | None, float]] = []
    for gate in gates:
        _say(f"\n=== {gate.name} " + "=" * max(0, 96 - len(gate.name)))
        started = time.monotonic()
        if (
            gate.name == "catalog conventions"
            and outcomes
            and outcomes[-1][0].name == "dbt build"
            and not (outcomes[-1][1] and outcomes[-1][1].ok)
        ):
            result = GateResult(
                False, ["not run: it checks the warehouse that the dbt build gate failed to make"]
            )
        else:
            try:
                result = gate.run(root)
            except Exception as error:  # noqa: BLE001 -- a gate's own crash is that gate's failure, not the end of the run
                result = GateResult(
                    False, [f"scripts/tmdb_pipeline/gates.py: {gate.name} crashed: {error!r}"]
                )
        outcomes.append((gate, result, time.monotonic() - started))

    _say("\n" + "=" * 100)
    for gate, result, seconds in outcomes:
        _say(f"{'PASS' if result and result.ok else 'FAIL'}  {gate.name:<20} {seconds:7.1f} s")
        if result and not result.ok:
            for problem in result.problems[:20]:
                _say(f"      {problem}")
            if len(result.problems) > 20:
                _say(f"      ... and {len(result.problems) - 20} more (above)")
    passed = sum(1 for _, result, _ in outcomes if result and result.ok)
    failed = len(outcomes) - passed
    _say(f"gates: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1
