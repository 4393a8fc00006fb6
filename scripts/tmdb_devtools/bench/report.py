"""The benchmark's report: targets met or not, the tables, docs/performance.md and performance.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tmdb_devtools import checksums
from tmdb_devtools.bench.measuring import Step
from tmdb_pipeline.project import project

TARGETS = {
    # name: (description, limit, comparison)
    "files_to_tested_marts_s": ("files -> tested marts, full size (make_run wall time, s)", 60.0, "<="),
    "incremental_vs_full": ("1 % new + 0.5 % changed / full rebuild, every test run", 0.35, "<="),
    "stage_vs_floor": ("staging alone / byte-read floor", 2.0, "<="),
    "make_test_s": ("make test's eight gates from a fresh clone, installs included (s)", 600.0, "<="),
    "peak_rss_mb": ("peak RSS of the whole process tree, any step of ours (MiB)", 2048.0, "<="),
    "rerun_noop_s": ("re-run with nothing new (s)", 15.0, "<="),
    "ml_train_s": ("training the box-office model after a full-size run (s)", 10.0, "<="),
    "history_s": ("recording the run in the run history, full size (s)", 2.0, "<="),
    "incremental_identical": ("incremental result identical to a full rebuild", True, "=="),
    "original_vs_ours": ("original loader / (stage + raw load), on the subset", 100.0, ">="),
}


def _step(steps: list[Step], name: str) -> Step | None:
    return next((s for s in steps if s.name == name), None)


def ratios(steps: list[Step]) -> dict[str, float | None]:
    def wall(name: str) -> float | None:
        step = _step(steps, name)
        return step.wall_s if step is not None else None

    def div(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a is not None and b else None

    def plus(a: float | None, b: float | None) -> float | None:
        return a + b if a is not None and b is not None else None

    return {
        "stage_vs_floor": div(wall("stage"), wall("floor")),
        "stage_raw_vs_floor": div(plus(wall("stage"), wall("raw_load")), wall("floor")),
        "original_vs_ours": div(wall("original"), plus(wall("subset_stage"), wall("subset_raw"))),
        "incremental_vs_full": div(wall("incremental"), wall("full_rebuild")),
        "rerun_noop_vs_full": div(wall("rerun_noop"), wall("full_rebuild")),
        "make_run_vs_floor": div(wall("make_run"), wall("floor")),
    }


def evaluate_targets(
    steps: list[Step], ratio: dict[str, float | None], identical: bool | None
) -> dict[str, Any]:
    # make test's memory is the gates' (Spark's JVM among them), not the pipeline's
    ours = [s.peak_rss_mb for s in steps if s.name not in ("floor", "original", "make_test")]
    make_run = _step(steps, "make_run")
    noop = _step(steps, "rerun_noop")
    ml_train = _step(steps, "ml_train")
    history = _step(steps, "history")
    make_test = _step(steps, "make_test")
    values: dict[str, Any] = {
        "files_to_tested_marts_s": make_run.wall_s if make_run and make_run.ok else None,
        "stage_vs_floor": ratio["stage_vs_floor"],
        "make_test_s": make_test.wall_s if make_test and make_test.ok else None,
        "original_vs_ours": ratio["original_vs_ours"],
        "peak_rss_mb": max(ours) if ours else None,
        "rerun_noop_s": noop.wall_s if noop and noop.ok else None,
        "ml_train_s": ml_train.wall_s if ml_train and ml_train.ok else None,
        "history_s": history.wall_s if history and history.ok else None,
        "incremental_vs_full": ratio["incremental_vs_full"],
        "incremental_identical": identical,
    }
    targets: dict[str, Any] = {}
    for name, (description, limit, op) in TARGETS.items():
        value = values[name]
        met: bool | None
        if value is None:
            met = None  # not measured in this run
        elif op == "<=":
            met = value <= limit
        elif op == ">=":
            met = value >= limit
        else:
            met = value == limit
        targets[name] = {"description": description, "limit": limit, "op": op, "value": value, "met": met}
    return targets


def print_comparison(comparison: dict[str, Any], announce: Callable[[str], None] = print) -> None:
    announce("Incremental warehouse vs. full rebuild (core and mart tables, order-independent checksums):")
    for row in comparison["tables"]:
        mark = "identical" if row["identical"] else "DIFFERENT"
        if row["differing_columns"]:
            mark += f" in {', '.join(row['differing_columns'])}"
        if row["current_rows_only"]:
            mark += " (current rows)"
        announce(
            f"  {row['table']:<45} {row['first_rows'] or 0:>10,} vs "
            f"{row['second_rows'] or 0:>10,} rows  "
            f"{mark}"
        )
    left_out = sorted({c for row in comparison["tables"] for c in row["left_out"]})
    if left_out:
        announce(f"  (load-history columns left out of the checksums: {', '.join(left_out)})")
    announce(f"  (load-history tables left out whole: {', '.join(checksums.LOAD_HISTORY_TABLES)})")
    announce(f"  => {'IDENTICAL' if comparison['identical'] else 'NOT IDENTICAL'}")


def results_table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| step | files | wall s | CPU s | peak RSS MiB | peak PSS MiB | files/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in result["steps"]:
        rate = f"{s['files'] / s['wall_s']:,.0f}" if s["files"] and s["wall_s"] else ""
        flag = "" if s["ok"] else " (failed)"
        lines.append(
            f"| {s['name']}{flag} | {s['files']:,} | {s['wall_s']:.2f} | {s['cpu_s']:.2f} "
            f"| {s['peak_rss_mb']:.0f} | {s['peak_pss_mb']:.0f} "
            f"| {rate} |"
        )
    return lines


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def targets_table(result: dict[str, Any]) -> list[str]:
    lines = ["| target | limit | measured | met |", "| --- | ---: | ---: | :---: |"]
    for t in result["targets"].values():
        value = t["value"]
        shown = "not measured" if value is None else _number(value)
        met = {True: "yes", False: "**no**", None: "–"}[t["met"]]
        lines.append(f"| {t['description']} | {t['op']} {t['limit']} | {shown} | {met} |")
    return lines


START, END = "<!-- figures:bench-results:start -->", "<!-- figures:bench-results:end -->"

DEFAULT_DOC = f"""# Performance

How fast the pipeline turns the dataset's files into tested marts, measured by `make bench`
(`scripts/tmdb_devtools/bench/`). The block between the markers below is rendered from performance.json by
every run (`make figures` renders it again); the rest of this page is written by hand.

{START}
{END}
"""


def render_results(result: dict[str, Any]) -> str:
    m = result["machine"]
    end = "load_average_at_end" in m
    lines = [
        f"## Latest results ({result['generated_at']}, size `{result['size']}`)",
        "",
        f"Machine: {m['cores']} cores ({m['cores_usable']} usable), {m['ram_gib']} GiB RAM, "
        f"{m['cpu_model']}, "
        f"{m['os']}; Python {m['python']}, dbt-core {m['dbt_core']}, dbt-duckdb {m['dbt_duckdb']}, "
        f"duckdb {m['duckdb']}, pandas {m['pandas']}. Load average at start: "
        f"{', '.join(str(x) for x in m['load_average_at_start'])}"
        + (f"; at end: {', '.join(str(x) for x in m['load_average_at_end'])}." if end else ".")
        + (f" Steps left out of this run: {', '.join(result['skipped'])}." if result.get("skipped") else ""),
        "",
        *results_table(result),
        "",
        *targets_table(result),
        "",
        "Ratios: " + ", ".join(f"{k} = {v}" for k, v in result["ratios"].items() if v is not None) + ".",
        "",
    ]
    comparison = result.get("comparison") or {}
    if comparison:
        different = [r["table"] for r in comparison["tables"] if not r["identical"]]
        left_out = sorted({c for r in comparison["tables"] for c in r["left_out"]})
        lines += [
            f"Incremental vs. full rebuild: {len(comparison['tables'])} core and mart tables compared, "
            + (
                "all identical"
                if comparison["identical"]
                else f"**different: {', '.join(different) or 'none found'}**"
            )
            + (f" (load-lineage columns left out: {', '.join(left_out)}" if left_out else " (")
            + f"{'; ' if left_out else ''}load-history tables left out whole: "
            + f"{', '.join(checksums.LOAD_HISTORY_TABLES)}).",
            "",
        ]
    for step in result["steps"]:
        if step["note"]:
            lines.append(f"- {step['name']}: {step['note']}")
    return "\n".join(lines)


def write_reports(result: dict[str, Any], report_dir: Path) -> None:
    """performance.json, then its figures rendered into performance.md (and, when the report goes to the
    project's docs/, into every page that shows them), so that a run's commit is the whole of it."""
    from tmdb_devtools import figures  # figures renders this module's tables

    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "performance.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    doc = report_dir / "performance.md"
    text = doc.read_text(encoding="utf-8") if doc.exists() else DEFAULT_DOC
    if START not in text or END not in text:
        text = text.rstrip("\n") + "\n\n" + START + "\n" + END + "\n"
    doc.write_text(text, encoding="utf-8")
    figures.render_file(doc, {"bench": result})
    root = project().root
    if report_dir.resolve() == (root / "docs").resolve():
        figures.render_all(root)


def print_table(result: dict[str, Any], announce: Callable[[str], None] = print) -> None:
    announce("")
    for line in [*results_table(result), "", *targets_table(result)]:
        announce(line)
    announce("Ratios: " + ", ".join(f"{k} = {v}" for k, v in result["ratios"].items() if v is not None))
