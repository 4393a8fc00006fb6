"""The static gates: sqlfluff, ruff, the conventions (dbt parse, dbt-bouncer, dbt-score), the workflows."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml

from tmdb_devtools.gates.common import GateResult, json_in, relative, run, say, tmdb
from tmdb_pipeline.project import tool

SQL_DIRS = ("models", "tests/dbt", "analyses", "snapshots")
MIN_MODEL_SCORE = 9.0
# A tool's line about one place in one file: `path:line:col: ...`.
LOCATED = re.compile(r"^[^\s:]+:\d+:\d+: ")
# Checks whose failure is about a model's properties file rather than its SQL.
PROPERTIES_CHECKS = ("description", "documented", "column", "contract", "access", "primary_key", "test")


def lint_sql(root: Path, folders: tuple[str, ...] = SQL_DIRS) -> GateResult:
    """sqlfluff on every model, test, analysis and snapshot (or on `folders`): a line per violation
    (`file:line:col: CODE`)."""
    targets = [d for d in folders if any((root / d).rglob("*.sql"))]
    if not targets:
        return GateResult(False, ["models/: no SQL files found to lint"])
    command = [tool("sqlfluff"), "lint", *targets, "--format", "json", "--processes", "2"]
    code, out = run(command, root, merge_stderr=False)
    files = json_in(out, "[")
    if not isinstance(files, list):
        return GateResult(False, [f".sqlfluff: sqlfluff did not run (exit {code}): {out.strip()[-2000:]}"])
    problems = []
    for linted in files:
        for v in linted.get("violations", []):
            line = v.get("start_line_no", v.get("line_no", 0))
            col = v.get("start_line_pos", v.get("line_pos", 0))
            problems.append(
                f"{relative(linted['filepath'], root)}:{line}:{col}: {v['code']} {v['description']}"
            )
    for problem in problems:
        say(problem)
    n_files = len(files)
    say(f"sqlfluff: {n_files} files, {len(problems)} violations")
    return GateResult(code == 0 and not problems, problems)


def lint_python(root: Path) -> GateResult:
    """`ruff check` and `ruff format --check`, one `file:line:col: ...` line per finding."""
    problems: list[str] = []
    concise = ["--output-format", "concise", "--no-cache", "."]
    code_check, out_check = run([tool("ruff"), "check", *concise], root)
    say(out_check.rstrip())
    if code_check != 0:
        problems += [line for line in out_check.splitlines() if LOCATED.match(line)] or [
            f"ruff check failed (exit {code_check})"
        ]
    code_format, out_format = run([tool("ruff"), "format", "--check", *concise], root)
    say(out_format.rstrip())
    if code_format != 0:
        problems += [line for line in out_format.splitlines() if LOCATED.match(line)] or [
            f"ruff format --check failed (exit {code_format})"
        ]
    return GateResult(code_check == 0 and code_format == 0, problems)


def dbt(args: Sequence[str], root: Path, target_path: Path) -> tuple[int, str]:
    """dbt through the pipeline's runner (packages installed, mirrored, or left out loudly)."""
    return run(
        tmdb("dbt", *args, "--target-path", str(target_path)),
        root,
        env={"DBT_TARGET_PATH": str(target_path), "DBT_LOG_PATH": str(root / "logs")},
    )


def manifest_nodes(manifest_path: Path) -> dict[str, dict]:
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


def bouncer(root: Path, artifacts: Path, category: str, nodes: dict[str, dict]) -> GateResult:
    """dbt-bouncer's checks of one category (manifest_checks or catalog_checks) against `artifacts`."""
    config = yaml.safe_load((root / "dbt-bouncer.yml").read_text(encoding="utf-8"))
    config["dbt_artifacts_dir"] = str(artifacts)
    if config.get("custom_checks_dir"):
        config["custom_checks_dir"] = str(root / config["custom_checks_dir"])
    with tempfile.TemporaryDirectory() as tmp:
        config_file, report = Path(tmp) / "dbt-bouncer.yml", Path(tmp) / "report.json"
        config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
        code, out = run(
            [
                tool("dbt-bouncer"),
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
        say(problem)
    summary = [line.strip() for line in out.splitlines() if "SUCCESS=" in line]
    say(f"dbt-bouncer {category}: {summary[-1].strip('│ ') if summary else f'exit {code}'}")
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
    code, out = run(
        [tool("dbt-score"), "lint", "-m", str(manifest_path), "-f", "json", *selection],
        root,
        merge_stderr=False,
    )
    report = json_in(out, "{")
    if not isinstance(report, dict) or "evaluables" not in report:
        return GateResult(
            False, [f"pyproject.toml: dbt-score did not run (exit {code}): {out.strip()[-2000:]}"]
        )
    problems = []
    say(f"dbt-score (each model must score >= {threshold}):")
    for unique_id, item in sorted(report["evaluables"].items(), key=lambda kv: kv[1]["score"]):
        warnings = [
            f"{rule.rsplit('.', 1)[-1]} ({result['severity']}): {result['message']}"
            for rule, result in item["results"].items()
            if result["result"] != "OK"
        ]
        path = nodes.get(unique_id, {}).get("original_file_path", unique_id)
        say(
            f"  {item['score']:4.1f} {item['badge']} {path}"
            + (f"  -- {'; '.join(warnings)}" if warnings else "")
        )
        if item["score"] < threshold:
            problems.append(
                f"{_at_fault(unique_id, 'description', path, nodes)}: dbt-score {item['score']:.1f} < "
                f"{threshold}: {'; '.join(warnings)}"
            )
    project = report.get("project", {}).get("score")
    say(f"  project score: {project:.1f}" if isinstance(project, (int, float)) else "")
    for line in problems:
        say(line)
    return GateResult(not problems, problems)


def check_conventions(root: Path) -> GateResult:
    """`dbt parse`, then dbt-bouncer's manifest checks and the dbt-score report."""
    target = root / "target"
    code, out = dbt(["parse"], root, target)
    manifest_path = target / "manifest.json"
    if code != 0 or not manifest_path.is_file():
        say(out.rstrip())
        return GateResult(
            False,
            [
                f"dbt parse failed (exit {code}): {last_error(out)} "
                "(dbt's full message, naming the file when dbt knows it, is above)"
            ],
        )
    nodes = manifest_nodes(manifest_path)
    checks = bouncer(root, target, "manifest_checks", nodes)
    score = _score(root, manifest_path, nodes)
    return GateResult(checks.ok and score.ok, checks.problems + score.problems)


def last_error(output: str) -> str:
    """dbt's last error line and the line after it (dbt often puts the message on the next line)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    at = max((i for i, line in enumerate(lines) if "rror" in line), default=len(lines) - 1)
    return " ".join(lines[at : at + 2])[:400] if lines else "no output"


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


def check_workflows(root: Path) -> GateResult:
    """GitHub workflows: valid against the workflow schema, and no medium or high zizmor finding."""
    workflows = sorted((root / ".github" / "workflows").glob("*.y*ml"))
    if not workflows:
        return GateResult(False, [".github/workflows/: no workflow files"])
    problems: list[str] = []
    files = [str(w.relative_to(root)) for w in workflows]
    code, out = run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files], root)
    say(out.rstrip())
    if code != 0:
        problems += [line.strip() for line in out.splitlines() if ".github/workflows/" in line] or [
            f".github/workflows/: check-jsonschema failed (exit {code})"
        ]
    code, out = run(
        [tool("zizmor"), "--offline", "--min-severity", "medium", "--format", "plain", ".github/workflows"],
        root,
        env={"NO_COLOR": "1"},
    )
    say(out.rstrip())
    if code != 0:
        problems += _zizmor_findings(out) or [f".github/workflows/: zizmor reported findings (exit {code})"]
    return GateResult(not problems, problems)
