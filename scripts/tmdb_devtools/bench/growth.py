"""`make bench-growth`: how the cost of `make run` grows with the data, from a quarter of the full dataset to
four times it, on one machine.

At each size (a fraction of the full dataset's 526,000 movies and 94,000 series; default 0.25, 1, 2 and 4)
the run is measured from a fresh data folder, then again with nothing new, then with 1 % new and 0.5 %
changed files; the published set is opened in Chromium and every dashboard page timed; at the full size the
Airflow DAG runs the same files from a fresh data folder too. Each command is a process tree measured from
outside (measuring.measure: wall, CPU, peak RSS of the whole tree), and the disk that the landing zone, the
warehouse and the published set take is read after the run.

The dataset is generated once, at the largest size, and cached; each smaller size is the first files of it,
hard-linked (the same shape and mix, none of the cost of generating it again). The work copy and data root
keep one path across sizes, so dbt's saved parse serves every size after an unmeasured first parse, as it
does for someone who runs the pipeline again on growing data.

Results: <report dir>/results/growth.json, and the chart docs/images/growth.png (time and memory against
size). `render_markdown()` turns the results into the table the docs show. Where a step's time per file at
the largest size exceeds its time per file at the full size by more than the tolerance, the results name
that step (`grows_faster`), so that the docs can say why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tmdb_devtools.bench.dataset import MIB, dataset_files, link_tree, replace_file, subset_names
from tmdb_devtools.bench.measuring import BenchError, Step, machine_info, measure
from tmdb_pipeline import SUBFOLDERS
from tmdb_pipeline.extract import sample
from tmdb_pipeline.project import project

FACTORS = (0.25, 1.0, 2.0, 4.0)
# The goals of the growth curve (issue "How cost grows"), checked against the results, never asserted by a
# timed test: time per file at the largest size within 10 % of the full size's, peak memory, the full size
# to tested marts, a re-run with nothing new at the largest size, the slowest dashboard page at the largest
# size, and the DAG against make run at the full size.
PER_FILE_TOLERANCE = 0.10
GOALS: dict[str, tuple[str, str, float]] = {
    "per_file_growth": ("time per file, largest size / full size", "<=", 1 + PER_FILE_TOLERANCE),
    "peak_rss_mb": ("peak RSS of the whole process tree, any size (MiB)", "<=", 2048.0),
    "full_size_run_s": ("files to tested marts at the full size (s)", "<=", 30.0),
    "largest_rerun_noop_s": ("re-run with nothing new at the largest size (s)", "<=", 15.0),
    "largest_dashboard_p95_s": ("slowest dashboard page, p95 over the pages, largest size (s)", "<=", 1.0),
    "dag_vs_make_run": ("Airflow DAG / make run at the full size", "<=", 1.3),
}
# A summary line with its own time: "Staging       batch ... (5.9 s)", "dbt build     OK: ... (30.1 s)".
TIMED_LINE = re.compile(r"^([A-Za-z][A-Za-z ]*?)\s{2,}.*\((\d+(?:\.\d+)?) s\)\s*$", re.MULTILINE)
ELAPSED_LINE = re.compile(r"^Elapsed\s+(\d+(?:\.\d+)?) s", re.MULTILINE)
AIRFLOW_PYTHON = Path(".venv-airflow") / "bin" / "python"


@dataclass
class SizeResult:
    factor: float
    files: int
    run: Step
    rerun_noop: Step | None = None
    incremental: Step | None = None
    disk_mb: dict[str, float] = field(default_factory=dict)  # landing, warehouse, published
    run_parts_s: dict[str, float] = field(default_factory=dict)  # the run's own timed steps
    dashboard_s: dict[str, float] = field(default_factory=dict)  # page -> time to drawn
    dag: dict[str, Any] = field(default_factory=dict)


@dataclass
class GrowthContext:
    base_movies: int
    base_series: int
    factors: Sequence[float]
    bench_dir: Path
    report_dir: Path
    skip: set[str]
    say: Callable[[str], None] = print

    @property
    def largest(self) -> sample.SampleSpec:
        top = max(self.factors)
        return sample.SampleSpec(
            round(self.base_movies * top), round(self.base_series * top), sample.DEFAULT_SEED, 1
        )

    def files_at(self, factor: float) -> tuple[int, int]:
        return round(self.base_movies * factor), round(self.base_series * factor)


def _du_mb(path: Path) -> float:
    """Disk used under a path (a file or a folder, links not followed), in MiB."""
    if not path.exists():
        return 0.0
    if path.is_file():
        return round(os.stat(path).st_blocks * 512 / MIB, 3)
    total = 0
    for folder, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
            except FileNotFoundError:
                continue
    return round(total / MIB, 3)  # a tiny size (a test's) is not 0


def run_parts(log_text: str) -> dict[str, float]:
    """The timed lines of a run's summary (staging, dbt build, and any later step that prints its time),
    plus the rest of the run's own elapsed time as `other`."""
    parts = {label.strip().lower().replace(" ", "_"): float(s) for label, s in TIMED_LINE.findall(log_text)}
    elapsed = ELAPSED_LINE.findall(log_text)
    if elapsed:
        parts["other"] = round(max(0.0, float(elapsed[-1]) - sum(parts.values())), 2)
    return parts


def ensure_largest_dataset(ctx: GrowthContext) -> Path:
    spec = ctx.largest
    folder = ctx.bench_dir / f"dataset-growth-{spec.movies}-{spec.series}"
    if sample.cached_spec(folder) == spec:
        ctx.say(f"Dataset: {spec.label()}, cached in {folder}")
        return folder
    ctx.say(f"Dataset: generating {spec.label()} into {folder} (once; cached for later runs) ...")
    stats = sample.generate(folder, spec, workers=os.cpu_count() or 2, force=True)
    ctx.say(f"  {stats.movies + stats.series:,} files, {stats.bytes / MIB:,.0f} MiB")
    return folder


def add_increment(work: Path, ctx: GrowthContext, factor: float) -> tuple[int, int]:
    """1 % new titles (ids beyond the largest dataset's, so new at every size) and 0.5 % changed ones (every
    200th file of this size's copy), each written anew and renamed over its link. Returns (new, changed)."""
    import orjson

    new = changed = 0
    largest = ctx.largest
    for entity, sub in SUBFOLDERS.items():
        count = ctx.files_at(factor)[0 if entity == "movies" else 1]
        start = largest.movies if entity == "movies" else largest.series
        prefix, id_of = ("movie_", sample.movie_id) if entity == "movies" else ("series_", sample.series_id)
        for index in range(start, start + max(1, round(count * 0.01))):
            doc = sample.make_doc(entity, largest.seed, index, 1, start)
            replace_file(work / sub / f"{prefix}{id_of(index)}.json", orjson.dumps(doc))
            new += 1
        names = sorted(n for n in os.listdir(work / sub) if n.endswith(".json"))
        for name in names[3:count:200]:
            path = work / sub / name
            doc = orjson.loads(path.read_bytes())
            doc["popularity"] = round(float(doc.get("popularity") or 0) * 1.5 + 0.25, 3)
            doc["vote_count"] = int(doc.get("vote_count") or 0) + 1
            replace_file(path, orjson.dumps(doc))
            changed += 1
    return new, changed


def _dashboard_timings(publish_dir: Path, out: Path, env: dict[str, str]) -> dict[str, float]:
    """Every dashboard page opened in Chromium by the dashboard's own browser test, on this published set:
    per page, the seconds from the click to every chart drawn (the test's timings.json)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(project().root / "tests" / "python" / "test_dashboard_browser.py")],
        cwd=project().root,
        env={**env, "TMDB_DASHBOARD_PUBLISH_DIR": str(publish_dir), "TMDB_SCREENSHOT_DIR": str(out)},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    timings_file = out / "timings.json"
    if done.returncode != 0 or not timings_file.is_file():
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise BenchError(f"The dashboard's browser test failed on {publish_dir}:\n{tail}")
    return {page: float(t["open_s"]) for page, t in json.loads(timings_file.read_text()).items()}


def _dag_run(work: Path, ctx: GrowthContext, env: dict[str, str]) -> dict[str, Any]:
    """`airflow dags test` of the tmdb_warehouse DAG on the same files, from a fresh data root."""
    airflow_python = project().root / AIRFLOW_PYTHON
    if not airflow_python.is_file():
        raise BenchError(f"The DAG step needs Airflow's venv ({AIRFLOW_PYTHON}): `make airflow-venv`.")
    root = ctx.bench_dir / "growth-dag"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    dag_env = {
        **env,
        "TMDB_DATA_ROOT": str(root / "data"),
        "AIRFLOW_HOME": str(root / "airflow"),
        "TMDB_PROJECT_PYTHON": sys.executable,
    }
    launch = [str(airflow_python), "orchestration/airflow/launch.py", "test", "--source", str(work)]
    step = measure("growth_dag", launch, files=0, log_dir=ctx.bench_dir / "logs", env=dag_env, check=False)
    log = (ctx.bench_dir / "logs" / "growth_dag.log").read_text(errors="replace")
    answer = next((json.loads(line) for line in reversed(log.splitlines()) if line.startswith("{")), {})
    shutil.rmtree(root, ignore_errors=True)
    return {
        "wall_s": step.wall_s,
        "ok": step.ok,
        "run_s": answer.get("duration_s"),
        "state": answer.get("state"),
    }


def measure_size(ctx: GrowthContext, dataset: Path, names: dict[str, list[str]], factor: float) -> SizeResult:
    movies, series = ctx.files_at(factor)
    only = {"movies": names["movies"][:movies], "series": names["series"][:series]}
    files = len(only["movies"]) + len(only["series"])
    work = ctx.bench_dir / "growth-work"  # one path for every size: dbt's saved parse fits them all
    link_tree(dataset, work, only)
    root = ctx.bench_dir / "growth-data"
    shutil.rmtree(root, ignore_errors=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TMDB_")},
        "TMDB_DATA_ROOT": str(root),
        "DBT_TARGET_PATH": str(ctx.bench_dir / "growth-target"),
        "DBT_LOG_PATH": str(ctx.bench_dir / "logs" / "dbt"),
    }
    log_dir = ctx.bench_dir / "logs"
    command = [sys.executable, "-m", "tmdb_pipeline", "run", "--source", str(work)]
    label = f"{factor:g}x"
    ctx.say(f"Size {label}: {files:,} files")
    result = SizeResult(factor, files, measure(f"growth_run_{label}", command, files=files, log_dir=log_dir,
                                               env=env, check=False))  # fmt: skip
    result.run_parts_s = run_parts((log_dir / f"growth_run_{label}.log").read_text(errors="replace"))
    data_dir = next(p for p in root.iterdir() if p.is_dir() and p.name.startswith("folder-"))
    result.disk_mb = {
        "landing": _du_mb(data_dir / "landing"),
        "warehouse": _du_mb(data_dir / "tmdb.duckdb"),
        "published": _du_mb((data_dir / "publish" / "latest").resolve()),
    }
    _say_step(ctx, result.run)
    if "rerun_noop" not in ctx.skip:
        result.rerun_noop = measure(f"growth_rerun_{label}", command, files=files, log_dir=log_dir, env=env,
                                    check=False)  # fmt: skip
        _say_step(ctx, result.rerun_noop)
    if "dashboard" not in ctx.skip:
        result.dashboard_s = _dashboard_timings(
            data_dir / "publish", ctx.bench_dir / f"growth-dashboard-{label}", env
        )
        ctx.say(f"  dashboard pages: slowest {max(result.dashboard_s.values()):.2f} s")
    if "dag" not in ctx.skip and factor == 1.0:
        result.dag = _dag_run(work, ctx, env)
        ctx.say(f"  DAG: {result.dag}")
    if "incremental" not in ctx.skip:
        new, changed = add_increment(work, ctx, factor)
        result.incremental = measure(f"growth_incremental_{label}", command, files=new + changed,
                                     log_dir=log_dir, env=env, check=False)  # fmt: skip
        result.incremental.note = f"{new:,} new + {changed:,} changed files"
        _say_step(ctx, result.incremental)
    shutil.rmtree(root, ignore_errors=True)
    return result


def _say_step(ctx: GrowthContext, step: Step) -> None:
    flag = "" if step.ok else f"  FAILED: {step.note}"
    ctx.say(f"  {step.name:<26} {step.wall_s:>8.2f} s wall {step.cpu_s:>8.2f} s CPU "
            f"{step.peak_rss_mb:>7.0f} MiB peak RSS{flag}")  # fmt: skip


def p95(values: Sequence[float]) -> float:
    """The 95th percentile by nearest rank (over a handful of pages, the slowest but outliers)."""
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def evaluate(sizes: Sequence[SizeResult]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The goals against the results, and the steps whose time per file grows faster than the data."""
    by_factor = {s.factor: s for s in sizes}
    largest = max(sizes, key=lambda s: s.factor)
    full = by_factor.get(1.0)
    values: dict[str, Any] = {
        "peak_rss_mb": max(
            step.peak_rss_mb for s in sizes for step in (s.run, s.rerun_noop, s.incremental) if step
        ),
        "largest_rerun_noop_s": largest.rerun_noop.wall_s if largest.rerun_noop else None,
        "largest_dashboard_p95_s": p95(list(largest.dashboard_s.values())) if largest.dashboard_s else None,
    }
    grows: list[dict[str, Any]] = []
    if full is not None:
        values["full_size_run_s"] = full.run.wall_s
        if largest is not full:
            values["per_file_growth"] = round(
                (largest.run.wall_s / largest.files) / (full.run.wall_s / full.files), 3
            )
            for part in sorted(set(largest.run_parts_s) & set(full.run_parts_s)):
                small, big = full.run_parts_s[part], largest.run_parts_s[part]
                if small > 0 and big > 0:
                    ratio = (big / largest.files) / (small / full.files)
                    if ratio > 1 + PER_FILE_TOLERANCE:
                        grows.append({"step": part, "per_file_ratio": round(ratio, 3)})
            if largest.rerun_noop and full.rerun_noop and full.rerun_noop.wall_s > 0:
                ratio = (largest.rerun_noop.wall_s / largest.files) / (full.rerun_noop.wall_s / full.files)
                if ratio > 1 + PER_FILE_TOLERANCE:
                    grows.append({"step": "rerun_noop", "per_file_ratio": round(ratio, 3)})
        if full.dag.get("run_s"):
            values["dag_vs_make_run"] = round(float(full.dag["run_s"]) / full.run.wall_s, 3)
    goals = {}
    for key, (description, op, limit) in GOALS.items():
        value = values.get(key)
        met = None if value is None else (value <= limit if op == "<=" else value >= limit)
        goals[key] = {"description": description, "op": op, "limit": limit, "value": value, "met": met}
    return goals, grows


def write_chart(results: dict[str, Any], path: Path) -> None:
    """Time (wall, and CPU of the whole tree) and peak memory against the number of files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = results["sizes"]
    files = [s["files"] / 1e6 for s in sizes]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110)
    for key, label in (("run", "make run, fresh"), ("incremental", "1 % new + 0.5 % changed"),
                       ("rerun_noop", "re-run, nothing new")):  # fmt: skip
        points = [(f, s[key]["wall_s"]) for f, s in zip(files, sizes, strict=True) if s.get(key)]
        if points:
            left.plot(*zip(*points, strict=True), marker="o", label=label)
    full = next((s for s in sizes if s["factor"] == 1.0), None)
    if full:  # what linear growth from the full size would give
        per_file = full["run"]["wall_s"] / full["files"]
        left.plot(files, [f * 1e6 * per_file for f in files], linestyle=":", color="grey", label="linear")
    left.set(xlabel="files (millions)", ylabel="wall time (s)", title="Time")
    left.legend(fontsize=8)
    right.plot(files, [s["run"]["peak_rss_mb"] for s in sizes], marker="o", label="peak RSS, make run")
    right.axhline(2048, linestyle=":", color="grey", label="2 GiB")
    right.set(xlabel="files (millions)", ylabel="MiB", title="Peak memory (whole process tree)")
    right.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def render_markdown(results: dict[str, Any]) -> str:
    """The growth table and the goals, for the docs' generated block."""
    lines = [
        f"Measured {results['generated_at']} on {results['machine']['cores']} cores "
        f"({results['machine']['cpu_model']}), {results['machine']['ram_gib']} GiB.",
        "",
        "| size | files | make run (s) | CPU (s) | µs per file | peak RSS (MiB) | re-run (s) | increment (s) "
        "| landing / warehouse / published (MiB) | slowest page (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for s in results["sizes"]:
        run, disk = s["run"], s["disk_mb"]
        rerun = f"{s['rerun_noop']['wall_s']:.1f}" if s.get("rerun_noop") else "-"
        incremental = f"{s['incremental']['wall_s']:.1f}" if s.get("incremental") else "-"
        page = f"{max(s['dashboard_s'].values()):.2f}" if s.get("dashboard_s") else "-"
        lines.append(
            f"| {s['factor']:g}x | {s['files']:,} | {run['wall_s']:.1f} | {run['cpu_s']:.1f} "
            f"| {run['wall_s'] / s['files'] * 1e6:.0f} | {run['peak_rss_mb']:.0f} | {rerun} | {incremental} "
            f"| {disk.get('landing', 0):,.0f} / {disk.get('warehouse', 0):,.0f} / "
            f"{disk.get('published', 0):,.0f} | {page} |"
        )
    lines += ["", "| goal | limit | measured | met |", "| --- | --- | --- | --- |"]
    for goal in results["goals"].values():
        value = "not measured" if goal["value"] is None else goal["value"]
        met = {True: "yes", False: "**no**", None: "-"}[goal["met"]]
        lines.append(f"| {goal['description']} | {goal['op']} {goal['limit']} | {value} | {met} |")
    if results["grows_faster"]:
        named = ", ".join(f"{g['step']} ({g['per_file_ratio']}x per file)" for g in results["grows_faster"])
        lines += ["", f"Steps whose time per file grows faster than the data: {named}."]
    return "\n".join(lines)


def run_growth(ctx: GrowthContext) -> int:
    ctx.bench_dir.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    dataset = ensure_largest_dataset(ctx)
    names = dataset_files(dataset)
    # one unmeasured parse with the paths every size uses, so no size pays dbt's cold parse
    link_tree(dataset, ctx.bench_dir / "growth-work", subset_names(names, 10))
    warm_root = ctx.bench_dir / "growth-data"
    shutil.rmtree(warm_root, ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "tmdb_pipeline", "run", "--source", str(ctx.bench_dir / "growth-work")],
        cwd=project().root, capture_output=True, check=False,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("TMDB_")},
             "TMDB_DATA_ROOT": str(warm_root), "DBT_TARGET_PATH": str(ctx.bench_dir / "growth-target"),
             "DBT_LOG_PATH": str(ctx.bench_dir / "logs" / "dbt")},
    )  # fmt: skip
    sizes = [measure_size(ctx, dataset, names, factor) for factor in sorted(ctx.factors)]
    goals, grows = evaluate(sizes)
    results: dict[str, Any] = {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "base": {"movies": ctx.base_movies, "series": ctx.base_series},
        "machine": {**machine, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "sizes": [asdict(s) for s in sizes],
        "goals": goals,
        "grows_faster": grows,
        "skipped": sorted(ctx.skip),
    }
    results_file = ctx.report_dir / "results" / "growth.json"
    results_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(results, indent=2) + "\n")
    write_chart(results, ctx.report_dir / "images" / "growth.png")
    print(render_markdown(results))
    print(f"\nWrote {results_file} and {ctx.report_dir / 'images' / 'growth.png'}.")
    if ctx.report_dir == project().root / "docs":  # the docs' own results: their figures follow
        from tmdb_devtools import figures

        figures.render_all(project().root)
    failed = [
        s.name for size in sizes for s in (size.run, size.rerun_noop, size.incremental) if s and not s.ok
    ]
    if failed:
        print(f"\nGROWTH BENCHMARK FAILED: {', '.join(failed)} (logs in {ctx.bench_dir / 'logs'}).")
        return 1
    return 0
