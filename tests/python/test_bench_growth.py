"""The growth benchmark's machinery (`make bench-growth`) on tiny data: sizes as hard-linked slices of one
generated dataset, the increment at every size, the run's timed parts read from its summary, the goals and
the steps that grow faster than the data, the chart and the table. Nothing here asserts a duration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tmdb_devtools import __main__ as devtools_cli
from tmdb_devtools.bench import growth
from tmdb_devtools.bench.dataset import dataset_files, link_tree
from tmdb_devtools.bench.measuring import Step

SUMMARY = """
Staging       batch b000001 in data/x/landing (5.9 s)
  movies      10 files seen = 10 staged + 0 quarantined + 0 unchanged
dbt build     OK: 48 models on target duckdb (30.1 s)
Elapsed       40.0 s
"""


def _step(name: str, wall: float, rss: float = 100.0) -> Step:
    return Step(name, 0, wall, wall, rss, rss)


def test_the_run_parts_come_from_the_summary_lines_with_a_time() -> None:
    assert growth.run_parts(SUMMARY) == {"staging": 5.9, "dbt_build": 30.1, "other": 4.0}
    assert growth.run_parts("nothing timed here") == {}


def test_p95_is_the_nearest_rank() -> None:
    assert growth.p95([1.0]) == 1.0
    assert growth.p95([0.2, 0.9, 0.4, 0.3]) == 0.9
    assert growth.p95([float(n) for n in range(1, 101)]) == 95.0


def test_a_step_growing_faster_than_the_data_is_named_and_the_goals_are_checked() -> None:
    full = growth.SizeResult(1.0, 1000, _step("run", 10.0), rerun_noop=_step("rerun", 2.0))
    full.run_parts_s = {"staging": 2.0, "dbt_build": 8.0}
    full.dag = {"run_s": 12.0}
    big = growth.SizeResult(4.0, 4000, _step("run", 44.0, rss=3000.0), rerun_noop=_step("rerun", 8.0))
    big.run_parts_s = {"staging": 8.0, "dbt_build": 36.0}  # staging linear, dbt 12.5 % more per file
    big.dashboard_s = {"overview": 0.4, "money": 1.5}
    goals, grows = growth.evaluate([full, big])
    assert grows == [{"step": "dbt_build", "per_file_ratio": 1.125}]
    assert goals["per_file_growth"]["value"] == 1.1 and goals["per_file_growth"]["met"] is True
    assert goals["peak_rss_mb"]["met"] is False
    assert goals["full_size_run_s"]["value"] == 10.0
    assert goals["dag_vs_make_run"]["value"] == 1.2 and goals["dag_vs_make_run"]["met"] is True
    assert (
        goals["largest_dashboard_p95_s"]["value"] == 1.5 and goals["largest_dashboard_p95_s"]["met"] is False
    )


def test_the_increment_adds_new_titles_and_changes_some_without_touching_the_cached_dataset(
    tmp_path: Path,
) -> None:
    """A size's work copy is hard links into the cached dataset: the increment writes new files and
    replaces changed ones, and the cached files keep their bytes."""
    ctx = growth.GrowthContext(
        400, 80, [0.5, 1], tmp_path / "b", tmp_path / "docs", set(), say=lambda _: None
    )
    dataset = growth.ensure_largest_dataset(ctx)
    names = dataset_files(dataset)
    before = {name: (dataset / "movies" / "movies" / name).read_bytes() for name in names["movies"]}
    work = tmp_path / "work"
    link_tree(dataset, work, {"movies": names["movies"][:200], "series": names["series"][:40]})
    new, changed = growth.add_increment(work, ctx, 0.5)
    assert (new, changed) == (2 + 1, 1 + 1)  # 1 % new (at least one), every 200th file changed
    after = dataset_files(work)
    assert len(after["movies"]) == 202 and len(after["series"]) == 41
    assert {n: (dataset / "movies" / "movies" / n).read_bytes() for n in names["movies"]} == before
    assert sum((work / "movies" / "movies" / n).read_bytes() != before[n] for n in names["movies"][:200]) == 1


@pytest.mark.slow
def test_growth_runs_every_size_end_to_end(tmp_path: Path) -> None:
    """Two sizes of a 40-movie base, without the browser, Airflow and increment steps (the gate's short
    version of `make bench-growth`): each size is run fresh and again with nothing new; the results, the
    chart and the table are written."""
    code = devtools_cli.main(
        ["bench-growth", "--base-movies", "40", "--base-series", "8", "--factors", "0.5,2",
         "--skip", "dashboard,dag,incremental", "--bench-dir", str(tmp_path / "b"),
         "--report-dir", str(tmp_path / "docs")]
    )  # fmt: skip
    assert code == 0
    results = json.loads((tmp_path / "docs" / "results" / "growth.json").read_text())
    assert [(s["factor"], s["files"]) for s in results["sizes"]] == [(0.5, 24), (2.0, 96)]
    for size in results["sizes"]:
        assert size["run"]["ok"] and size["rerun_noop"]["ok"] and size["incremental"] is None
        assert {"staging", "dbt_build"} <= set(size["run_parts_s"])
        assert size["disk_mb"]["landing"] > 0 and size["disk_mb"]["warehouse"] > 0
        assert size["disk_mb"]["published"] > 0
    assert results["goals"]["dag_vs_make_run"]["value"] is None  # skipped, reported as not measured
    assert results["goals"]["per_file_growth"]["value"] is None  # no full size (1x) among the sizes
    assert (tmp_path / "docs" / "images" / "growth.png").stat().st_size > 10_000
    table = growth.render_markdown(results)
    assert "| 2x | 96 |" in table and "not measured" in table


def test_bad_arguments_are_clear_errors() -> None:
    assert devtools_cli.main(["bench-growth", "--factors", "one,two"]) == 2
    assert devtools_cli.main(["bench-growth", "--skip", "everything"]) == 2
