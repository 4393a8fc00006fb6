"""The benchmark's machinery on tiny data: measuring a process tree, the reference loaders, the 1 % / 0.5 %
changes, the order-independent warehouse comparison and the reports. Nothing here asserts a duration."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import duckdb
import pytest

from tmdb_devtools import __main__ as devtools_cli
from tmdb_devtools import checksums
from tmdb_devtools.bench import dataset as bench_data
from tmdb_devtools.bench import measuring, reference_loaders, report, steps
from tmdb_pipeline.extract import sample

SPEC = sample.SampleSpec(movies=400, series=100)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bench") / "dataset"
    sample.generate(folder, SPEC, workers=1)
    return folder


def test_measure_sums_memory_and_cpu_over_the_whole_process_tree(tmp_path: Path) -> None:
    # The parent only waits; its child holds 200 MiB and burns CPU: both must show up in the step.
    child = (
        "import time; block = bytearray(200 * 1024 * 1024); end = time.process_time() + 0.5\n"
        "while time.process_time() < end: pass\n"
        "time.sleep(0.3)"
    )
    parent = f"import subprocess, sys; sys.exit(subprocess.run([sys.executable, '-c', {child!r}]).returncode)"
    step = measuring.measure("tree", [sys.executable, "-c", parent], files=0, log_dir=tmp_path)
    assert step.ok
    assert step.peak_rss_mb >= 200
    assert step.peak_pss_mb >= 150
    assert step.cpu_s >= 0.45
    assert step.wall_s >= step.cpu_s


def test_a_failing_step_is_reported_with_its_output(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "print('something broke'); raise SystemExit(3)"]
    with pytest.raises(measuring.BenchError, match="something broke"):
        measuring.measure("broken", command, files=1, log_dir=tmp_path)
    step = measuring.measure("broken", command, files=1, log_dir=tmp_path, check=False)
    assert not step.ok and "exit code 3" in step.note


def test_floor_reads_every_byte(dataset: Path) -> None:
    files = sorted(p for p in dataset.glob("*/*/*") if p.is_file())
    assert reference_loaders.floor_read(dataset, workers=2) == (
        len(files),
        sum(p.stat().st_size for p in files),
    )
    assert reference_loaders.floor_read(dataset, workers=1) == (
        len(files),
        sum(p.stat().st_size for p in files),
    )


def test_original_loader_writes_one_table_per_entity(dataset: Path, tmp_path: Path) -> None:
    database = tmp_path / "original.duckdb"
    assert reference_loaders.original_load(dataset, database) == {"movies": 400, "series": 100}
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.sql("select count(distinct id) from movies").fetchone() == (400,)
        # json_normalize flattens nested objects into dotted columns
        columns = {row[0] for row in con.sql("describe movies").fetchall()}
        assert "belongs_to_collection.name" in columns


def test_subset_keeps_each_entitys_share() -> None:
    files = {"movies": [f"m{i}" for i in range(800)], "series": [f"s{i}" for i in range(200)]}
    picked = bench_data.subset_names(files, 100)
    assert (len(picked["movies"]), len(picked["series"])) == (80, 20)
    assert bench_data.subset_names(files, 5000) == files


def test_changes_are_deterministic_and_leave_the_cached_dataset_alone(dataset: Path, tmp_path: Path) -> None:
    before = {p: p.read_bytes() for p in dataset.glob("*/*/*.json")}
    copies = []
    for name in ("a", "b"):
        work = tmp_path / name
        bench_data.link_tree(dataset, work)
        assert bench_data.apply_changes(work, SPEC) == (4 + 1, 2 + 1)  # 1 % new, every 200th title changed
        copies.append({p.relative_to(work): p.read_bytes() for p in work.glob("*/*/*.json")})
    assert copies[0] == copies[1]
    assert {p: p.read_bytes() for p in dataset.glob("*/*/*.json")} == before
    original = {p.relative_to(dataset): data for p, data in before.items()}
    changed = [p for p, data in original.items() if copies[0][p] != data]
    assert len(changed) == 3 and len(set(copies[0]) - set(original)) == 5


def test_the_ml_and_history_steps_are_held_to_what_they_may_add_to_a_run() -> None:
    measured = [
        measuring.Step("ml_train", 0, 9.5, 9.0, 300.0, 300.0),
        measuring.Step("history", 0, 2.5, 2.0, 100.0, 100.0),
    ]
    targets = report.evaluate_targets(measured, report.ratios(measured), None)
    assert targets["ml_train_s"]["met"] is True and targets["ml_train_s"]["value"] == 9.5
    assert targets["history_s"]["met"] is False  # over its 2 s
    failed = [measuring.Step("ml_train", 0, 1.0, 1.0, 1.0, 1.0, ok=False)]
    assert report.evaluate_targets(failed, report.ratios(failed), None)["ml_train_s"]["met"] is None


def test_reports_keep_the_hand_written_text(tmp_path: Path) -> None:
    step = measuring.Step("stage", 10, 2.0, 3.0, 100.0, 80.0)
    ctx = steps.Context(size="8", bench_dir=tmp_path, report_dir=tmp_path, subset=4, skip=set())
    ctx.steps = [
        step,
        measuring.Step("floor", 10, 1.0, 1.0, 50.0, 50.0),
        measuring.Step("raw_load", 10, 1.0, 2.0, 1.0, 1.0),
    ]
    ratios = report.ratios(ctx.steps)
    assert ratios["stage_raw_vs_floor"] == 3.0 and ratios["stage_vs_floor"] == 2.0
    targets = report.evaluate_targets(ctx.steps, ratios, None)
    assert targets["stage_vs_floor"]["met"] is True  # 2.0 is within the 2x goal
    assert targets["make_test_s"]["met"] is None  # not measured in this run
    assert targets["peak_rss_mb"] == {**targets["peak_rss_mb"], "value": 100.0, "met": True}
    assert targets["incremental_identical"]["met"] is None
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Performance\n\nWhy it is slow.\n\n{report.START}\nold\n{report.END}\n\nMore notes.\n")
    result = {
        "generated_at": "now",
        "size": "8",
        "machine": measuring.machine_info(),
        "steps": [vars(s) for s in ctx.steps],
        "ratios": ratios,
        "targets": targets,
        "comparison": {},
    }
    report.write_reports(result, tmp_path)
    text = doc.read_text()
    assert text.startswith("# Performance\n\nWhy it is slow.") and text.endswith("More notes.\n")
    assert "old" not in text and "| stage | 10 | 2.00 | 3.00 | 100 | 80 | 5 |" in text
    saved = json.loads((tmp_path / "performance.json").read_text())
    assert [s["name"] for s in saved["steps"]] == ["stage", "floor", "raw_load"]
    assert set(saved["steps"][0]) >= {"name", "files", "wall_s", "cpu_s", "peak_rss_mb"}
    assert saved["targets"]["stage_vs_floor"]["value"] == 2.0


@pytest.mark.slow
def test_bench_runs_the_python_steps_end_to_end(tmp_path: Path) -> None:
    dbt_steps = [s for s in steps.STEPS if s not in ("floor", "original")]
    code = devtools_cli.main(
        ["bench", "--size", "40", "--subset", "20", "--skip", ",".join(dbt_steps), "--bench-dir",
         str(tmp_path / "b"), "--report-dir", str(tmp_path / "docs")]
    )  # fmt: skip
    assert code == 0
    saved = json.loads((tmp_path / "docs" / "performance.json").read_text())
    assert [(s["name"], s["files"], s["ok"]) for s in saved["steps"]] == [
        ("floor", 50, True),
        ("original", 20, True),
    ]
    assert (tmp_path / "b" / "dataset-40" / sample.PARAMS_FILE).is_file()  # cached for the next run
    assert not (tmp_path / "b" / "runs-40").exists()
    assert devtools_cli.main(["bench", "--skip", "nonsense"]) == 2


def test_the_comparison_names_each_table_its_rows_and_what_differs() -> None:
    table = {"columns": [["id", "BIGINT"]], "rows": 3, "checksum": "a", "column_checksums": {"id": "a"}}
    changed = {**table, "checksum": "b", "column_checksums": {"id": "b"}}
    identical, rows = checksums.compare(
        {"core.t": table, "marts.m": table}, {"core.t": table, "marts.m": changed}
    )
    lines: list[str] = []
    report.print_comparison({"identical": identical, "tables": rows}, lines.append)
    assert "core.t" in lines[1] and "3 vs          3 rows  identical" in lines[1]
    assert lines[2].endswith("DIFFERENT in id")
    assert lines[-1].endswith("NOT IDENTICAL")


def test_make_test_is_timed_in_a_fresh_clone_with_each_gates_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[list[str]] = []

    def fake_measure(name: str, command: list[str], **kwargs: object) -> measuring.Step:
        ran.append(command)
        (tmp_path / "logs").mkdir(exist_ok=True)
        (tmp_path / "logs" / "make_test.log").write_text(
            # the gate run beside the others: its own summary first, then the final one
            "FAIL  spark                 401.1 s\n"
            "PASS  sqlfluff                15.7 s\nFAIL  spark                 401.2 s (beside the others)\n"
        )
        return measuring.Step(name, 0, 500.0, 700.0, 2000.0, 1900.0, ok=False)

    monkeypatch.setattr(steps, "measure", fake_measure)
    ctx = steps.Context(size="8", bench_dir=tmp_path, report_dir=tmp_path, subset=4, skip=set())
    ctx.log_dir = tmp_path / "logs"
    step = steps.make_test(ctx)
    (script,) = [c[-1] for c in ran]
    assert script.startswith("git clone --quiet ")
    assert script.endswith(f"test SKIP_GATES={steps.MAKE_TEST_SKIPS}")
    assert step.note.endswith(": spark 401.2 s, sqlfluff 15.7 s")
    targets = report.evaluate_targets([step], report.ratios([step]), None)
    assert targets["make_test_s"]["value"] is None  # a failed make test is no time
    assert targets["peak_rss_mb"]["value"] is None  # the gates' memory is not the pipeline's


def test_the_history_step_records_make_runs_run_again_on_its_own(tmp_path: Path) -> None:
    """At a small size: the step sets make_run's record aside and records the same run anew, as a step of
    its own (the full-size figure is the benchmark's)."""
    from tmdb_pipeline.monitoring.history import History

    root = tmp_path / "runs-8" / "data"
    data_dir = root / "folder-dataset-0123abcd"
    target = tmp_path / "target"
    target.mkdir(parents=True)
    (target / "run_results.json").write_text(json.dumps({
        "metadata": {"invocation_id": "0f0e0d0c-1111-2222-3333-444455556666",
                     "generated_at": "2026-01-01T00:00:00Z"},
        "args": {"which": "build"}, "elapsed_time": 3.0,
        "results": [{"unique_id": "model.tmdb.m", "status": "success", "execution_time": 1.0, "timing": []}],
    }))  # fmt: skip
    (data_dir / "history" / "invocation=0f0e0d0c-1111-2222-3333-444455556666").mkdir(parents=True)
    ctx = steps.Context(size="8", bench_dir=tmp_path, report_dir=tmp_path, subset=4, skip=set())
    ctx.log_dir = tmp_path / "logs"
    ctx.log_dir.mkdir()
    env = {**os.environ, "TMDB_DATA_ROOT": str(root), "DBT_TARGET_PATH": str(target)}
    step = steps.history_step(ctx, root, env, files=8)
    assert step.ok, (ctx.log_dir / "history.log").read_text()
    assert step.name == "history"
    assert [p.name for p in History(data_dir / "history").invocations()] == [
        "invocation=0f0e0d0c-1111-2222-3333-444455556666"
    ]
    assert History(data_dir / "history").query("select count(*) from {invocations}") == [(1,)]
    assert (tmp_path / "runs-8" / "history-of-make_run" / "history").is_dir()
