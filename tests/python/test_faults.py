"""The fault campaign's parts (tmdb_devtools.faults): seeds, moments, faults and invariant checks, each on
files made for the test. The campaign itself runs as the `faults` gate (`make test`) and `make faults`."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tmdb_devtools.faults import invariants, kinds, render_markdown
from tmdb_devtools.faults.moments import KINDS, STEPS, Fault, Progress, draw_seeds, layer_of
from tmdb_devtools.faults.sandbox import Slice, mount_available, mounted, unmount, write_slice
from tmdb_pipeline.ml import TRAINING_BEGINS
from tmdb_pipeline.ml.publishing import REJECTED_CARD


def pick_seeds(master: int, count: int, seen: dict[str, list[str]], allowed: tuple[str, ...]) -> list[int]:
    """The first `count` seeds a campaign of seed `master` draws."""
    return list(itertools.islice(draw_seeds(master, seen, allowed), count))


def test_a_seed_is_the_whole_fault_and_replays_exactly() -> None:
    faults = [Fault.from_seed(seed) for seed in range(1, 400)]
    assert [Fault.from_seed(seed) for seed in range(1, 400)] == faults
    assert {f.kind for f in faults} == set(KINDS)
    assert {f.step for f in faults} == set(STEPS)
    assert all(0 <= f.fraction < 1 and 1 <= f.stop_s <= 4 for f in faults)


def test_a_campaign_covers_every_kind_and_step_its_runs_have() -> None:
    seen = {"first": ["get", "stage", "dbt-parse", "dbt-core", "publish"], "second": ["stage", "dbt-marts"]}
    seeds = pick_seeds(7, 40, seen, KINDS)
    assert seeds == pick_seeds(7, 40, seen, KINDS)  # a campaign's seed replays it
    faults = [Fault.from_seed(s) for s in seeds]
    assert all(f.step in seen[f.phase] for f in faults)
    pairs = Counter((f.kind, f.step) for f in faults)
    every = {(k, s) for k in KINDS for steps in seen.values() for s in steps}
    assert set(pairs) == every
    assert max(pairs.values()) - min(pairs.values()) <= 1
    assert {Fault.from_seed(s).kind for s in pick_seeds(3, 12, seen, ("sigkill",))} == {"sigkill"}


def test_dbt_nodes_are_placed_in_their_layer() -> None:
    assert layer_of("seed", "iso_countries") == "dbt-seed"
    assert layer_of("snapshot", "titles_snapshot") == "dbt-snapshot"
    assert layer_of("model", "stg_tmdb__movies") == "dbt-staging"
    assert layer_of("unit_test", "dim_titles") == "dbt-core"
    assert layer_of("model", "mart_finance__movie_financials") == "dbt-marts"
    assert layer_of("test", "unique_dim_titles_title_key") is None


def test_progress_follows_a_run_through_its_files(tmp_path: Path) -> None:
    data_root, log = tmp_path / "data", tmp_path / "dbt.log"
    folder = data_root / "folder-x"
    (folder / "landing").mkdir(parents=True)
    log.write_text("an earlier run: Began running node model.tmdb.mart_x\n")
    output = tmp_path / "run.log"  # what the run prints
    progress = Progress(data_root, log, output)
    assert progress.poll() == "get"
    (folder / "landing" / ".tmp").mkdir()
    assert progress.poll() == "stage"
    (folder / "landing" / ".tmp").rmdir()
    assert progress.poll() == "dbt-parse"
    with log.open("a") as out:
        out.write("[debug] Began running node seed.tmdb.iso_countries\n")
        out.write("[debug] Began running node model.tmdb.mart_audit__load_history\n")
        out.write("[debug] Began running node model.tmdb.dim_tit")
    assert progress.poll() == "dbt-marts"
    with log.open("a") as out:
        out.write("les\n")
    assert progress.poll() == "dbt-core"  # back and forth between dbt's layers
    time.sleep(0.05)
    with log.open("a") as out:
        out.write("[info] Completed successfully\n")
    assert progress.poll() == "dbt-end"
    (folder / "publish").mkdir()
    (folder / "publish" / ".tmp-123").mkdir()
    assert progress.poll() == "publish"
    (folder / "publish" / "latest").symlink_to(".tmp-123")
    assert progress.poll() == "summary"
    (folder / "history").mkdir()  # a step after publishing, once it exists, is seen by the folder it writes
    assert progress.poll() == "history"
    output.write_text("Published ...\n")
    assert progress.poll() == "history"
    # training writes only as it ends: its start is the line the run prints
    output.write_text(f"Published ...\n{TRAINING_BEGINS} 20261208T000000Z (400 movies ...)\n")
    assert progress.poll() == "ml"
    durations = progress.durations()
    assert list(durations) == [
        *("get", "stage", "dbt-parse", "dbt-seed", "dbt-marts", "dbt-core"),
        *("dbt-end", "publish", "summary", "history", "ml"),
    ]
    assert durations["dbt-core"] >= 0.04


def test_progress_reads_dbts_log_on_when_dbt_rotates_it(tmp_path: Path) -> None:
    data_root, log = tmp_path / "data", tmp_path / "dbt.log"
    (data_root / "folder-x" / "landing" / ".tmp").mkdir(parents=True)
    log.write_text("an earlier run's lines, enough of them to be longer than this run's\n" * 20)
    progress = Progress(data_root, log)
    assert progress.poll() == "stage"
    (data_root / "folder-x" / "landing" / ".tmp").rmdir()
    with log.open("a") as out:
        out.write("[debug] Began running node model.tmdb.stg_tmdb__movies\n")
    assert progress.poll() == "dbt-staging"
    log.rename(tmp_path / "dbt.log.1")  # as dbt's rotating handler does, mid-run
    log.write_text("[debug] Began running node model.tmdb.int_titles_unioned\n")
    assert progress.poll() == "dbt-intermediate"
    with log.open("a") as out:
        out.write("[info] Completed successfully\n")
    assert progress.poll() == "dbt-end"


def test_no_seed_is_drawn_when_no_step_was_seen() -> None:
    assert list(draw_seeds(11, {}, KINDS)) == []  # nothing to aim at


def test_the_slice_is_the_first_files_by_id_then_new_and_changed_ones(tmp_path: Path) -> None:
    real = tmp_path / "real"
    for entity, folder, count in (("movie", "movies/movies", 12), ("series", "series/series", 6)):
        (real / folder).mkdir(parents=True)
        for number in range(1, count + 1):
            (real / folder / f"{entity}_{number}.json").write_text(
                json.dumps({"id": number, "vote_count": 1})
            )
    counts = write_slice(real, tmp_path / "versions", Slice(4, 2, 3, 1, 2))
    assert counts == {"v1": 6, "v2": 10}
    v1 = sorted(p.name for p in (tmp_path / "versions/v1/movies/movies").iterdir())
    assert v1 == ["movie_1.json", "movie_2.json", "movie_3.json", "movie_4.json"]
    changed = [
        p.name
        for p in (tmp_path / "versions/v1/movies/movies").iterdir()
        if p.read_bytes() != (tmp_path / "versions/v2/movies/movies" / p.name).read_bytes()
    ]
    assert len(changed) == 2
    for name in changed:
        before, after = (tmp_path / f"versions/{v}/movies/movies/{name}" for v in ("v1", "v2"))
        assert json.loads(after.read_text())["vote_count"] == 2
        assert after.stat().st_mtime_ns > before.stat().st_mtime_ns


# ----------------------------------------------------------------------------------------------------
# The invariant checks, each shown a state that breaks it


def _landing(tmp_path: Path, batches: dict[str, list[tuple[str, bytes]]]) -> tuple[Path, Path]:
    """A source folder and a landing zone whose batches stage the given (file, content) pairs."""
    source, landing = tmp_path / "source", tmp_path / "landing"
    for batch, files in batches.items():
        folder = landing / f"batch={batch}"
        folder.mkdir(parents=True)
        rows, docs = [], []
        for name, content in files:
            sha = hashlib.sha256(content).hexdigest()
            rows.append({"source_file": name, "entity": "movies", "sha256": sha, "status": "staged"})
            docs.append(json.dumps({"source_file": name, "file_sha256": sha, "doc": {}}))
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes(content)
        (folder / "manifest.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (folder / "movies-0.ndjson").write_text("".join(d + "\n" for d in docs))
        (folder / "summary.json").write_text("{}")
    return source, landing


def test_the_landing_checks_pass_a_whole_zone_and_name_what_is_wrong(tmp_path: Path) -> None:
    a, b = "movies/movies/movie_1.json", "movies/movies/movie_2.json"
    source, landing = _landing(tmp_path, {"b000001": [(a, b"1"), (b, b"2")], "b000002": [(a, b"1 changed")]})
    assert invariants.landing_whole(landing) == []
    assert invariants.landing_reconciles(landing, source) == []

    (source / "movies/movies/movie_3.json").write_bytes(b"3")  # in the source, in no batch
    (source / b).write_bytes(b"2 changed")  # changed since staged
    problems = invariants.landing_reconciles(landing, source)
    assert any("in no batch" in p and "movie_3" in p for p in problems), problems
    assert any("not their content" in p and "movie_2" in p for p in problems), problems

    twice = tmp_path / "twice"
    twice.mkdir()
    source, landing = _landing(twice, {"b000001": [(a, b"1")], "b000002": [(a, b"1")]})
    assert any("staged more than once" in p for p in invariants.landing_reconciles(landing, source))
    (landing / "batch=b000002" / "summary.json").unlink()
    (landing / "batch=b000001" / "movies-0.ndjson").write_text("")
    problems = invariants.landing_whole(landing)
    assert any("b000002 has no summary.json" in p for p in problems), problems
    assert any("b000001: manifest stages" in p for p in problems), problems


def _publish(root: Path, version: str, rows: int) -> Path:
    folder = root / version
    folder.mkdir(parents=True)
    with duckdb.connect() as con:
        con.execute(f"copy (select range as id from range({rows})) to '{folder / 'mart_x.parquet'}'")
    manifest = {
        "relations": {"mart_x": {"file": "mart_x.parquet", "rows": rows, "columns": {"id": "BIGINT"}}}
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (root / "latest").unlink(missing_ok=True)
    (root / "latest").symlink_to(version)
    return folder


def test_the_publish_checks_pass_a_whole_set_and_name_what_is_wrong(tmp_path: Path) -> None:
    root = tmp_path / "publish"
    assert invariants.published_whole(root, required=False) == []
    assert invariants.published_whole(root, required=True) == ["nothing is published"]
    folder = _publish(root, "v1", 5)
    assert invariants.published_whole(root, required=True) == []
    reference = invariants.published_checksums(root)
    assert invariants.published_matches(root, reference, []) == []
    assert invariants.published_matches(root, reference, ["b000001"]) != []

    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["relations"]["mart_x"]["rows"] = 6
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert any("5 rows, the manifest says 6" in p for p in invariants.published_whole(root, required=True))
    (folder / "mart_x.parquet").write_bytes(b"half a file")
    assert any("unreadable" in p for p in invariants.published_whole(root, required=True))
    _publish(root, "v2", 4)
    assert invariants.published_matches(root, reference, []) != []


def _model(ml_dir: Path, version: str, published_set: str) -> Path:
    folder = ml_dir / version
    folder.mkdir(parents=True)
    (folder / "model_card.json").write_text(json.dumps({"data": {"version": published_set}}))
    (folder / "model.skops").write_bytes(b"a model")
    with duckdb.connect() as con:
        con.execute(f"copy (select 1 as tmdb_id) to '{folder / 'predictions.parquet'}'")
    (ml_dir / "latest").unlink(missing_ok=True)
    (ml_dir / "latest").symlink_to(version)
    return folder


def test_the_model_check_holds_the_model_to_the_published_set(tmp_path: Path) -> None:
    folder = tmp_path / "folder-x"
    assert invariants.model_state(folder) == invariants.NO_MODEL
    _publish(folder / "publish", "v1", 3)
    assert invariants.model_state(folder) == invariants.NO_MODEL  # too few movies: no model is right
    model = _model(folder / "ml", "m1", "v1")
    assert invariants.model_matches(folder, invariants.PUBLISHED_MODEL) == []
    assert invariants.model_matches(folder, invariants.NO_MODEL) == [
        "the model is published, a clean run leaves it none"
    ]
    (model / "predictions.parquet").write_bytes(b"half a file")
    assert any("cannot be read" in p for p in invariants.model_matches(folder, invariants.PUBLISHED_MODEL))
    (model / "model.skops").unlink()
    assert "ml/latest (m1) has no model.skops" in invariants.model_matches(folder, invariants.PUBLISHED_MODEL)
    # a newer published set whose model lost to the baseline: its card, beside the older model
    _publish(folder / "publish", "v2", 4)
    assert invariants.model_state(folder) == invariants.NO_MODEL  # the model describes an older set
    (folder / "ml" / REJECTED_CARD).write_text(json.dumps({"data": {"version": "v2"}}))
    assert invariants.model_matches(folder, invariants.REJECTED_MODEL) == []


def test_the_reader_reports_a_set_that_changes_under_it(tmp_path: Path) -> None:
    root = tmp_path / "publish"
    folder = _publish(root, "v1", 3)
    reader = invariants.Reader(root, pause_s=0.01)
    reader.start()
    assert invariants.wait_for(lambda: reader.reads >= 2, 30)
    (folder / "mart_x.parquet").unlink()
    assert invariants.wait_for(lambda: bool(reader.problems), 30)
    assert any("mart_x.parquet" in p for p in reader.stop())


# ----------------------------------------------------------------------------------------------------
# The faults that need a filesystem of their own


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    why = mount_available()
    if why:
        pytest.skip(why)
    point = tmp_path / "disk"
    point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(point)], check=True)
    yield point
    while mounted(point):
        unmount(point)


def test_a_full_disk_fault_takes_every_byte_and_gives_them_back(small_disk: Path) -> None:
    filler = kinds.fill(small_disk)
    with pytest.raises(OSError, match="No space left"):
        (small_disk / "one-more").write_bytes(b"x" * 8192)
    filler.unlink()
    (small_disk / "one-more").write_bytes(b"x" * 8192)


def test_a_read_only_fault_stops_new_writes_and_is_undone(small_disk: Path) -> None:
    before = mounted(small_disk)
    kept = (small_disk / "open-before").open("w")
    kinds.make_read_only(small_disk)
    try:
        with pytest.raises(OSError, match="Read-only"):
            (small_disk / "new").write_text("x")
        kept.write("a file open before the fault stays writable, as it does after chmod")
        kept.flush()
    finally:
        kept.close()
        kinds.undo_read_only(small_disk, before)
    assert mounted(small_disk) == before
    (small_disk / "new").write_text("x")


def test_a_stop_fault_stops_and_continues_a_process_group() -> None:
    proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        kinds.stop(proc.pid)
        assert invariants.wait_for(lambda: _state(proc.pid) == "T", 10)
        kinds.cont(proc.pid)
        assert invariants.wait_for(lambda: _state(proc.pid) == "S", 10)
    finally:
        proc.kill()
        proc.wait()


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_the_figure_is_rendered_from_the_results() -> None:
    trials = [
        {"seed": 11, "kind": "sigkill", "step_hit": "stage", "injected": True, "problems": {}},
        {"seed": 12, "kind": "disk-full", "step_hit": "dbt-core", "injected": True, "problems": {}},
        {"seed": 13, "kind": "sigkill", "step_hit": None, "injected": False, "problems": {}},
    ]
    results = {"faults": 2, "kinds": ["disk-full", "sigkill"], "steps": ["stage", "dbt-core"], "broken": 0,
               "seed": 5, "checks": 14, "wall_s": 600, "cores": os.cpu_count(), "trials": trials}  # fmt: skip
    text = render_markdown(results)
    assert text.startswith("**2 faults at random moments, 2 kinds, 0 invariants broken**")
    assert (
        "per kind: sigkill 1, disk-full 1, read-only 0, sigstop 0. Per step hit: stage 1, dbt-core 1." in text
    )
    assert "--replay" not in text and "more drawn" not in text
    assert "per fault" not in text  # no clean runs recorded, nothing said of them
    missed = render_markdown({**results, "missed": 1})
    assert "; 1 more drawn, their run over first; campaign seed 5" in missed
    text = render_markdown({**results, "clean_run_s": {"first": 41.2, "second": 38.9}})
    assert "slice took first 41 s, second 39 s; the campaign averaged 300 s per fault" in text
    text = render_markdown({**results, "broken": 1, "broken_seeds": [12]})
    assert "1 invariants broken" in text and "12" in text.rsplit("replay", 1)[1]


def test_the_faults_gate_runs_at_least_ten_faults_and_fails_when_one_breaks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tmdb_devtools.faults import command
    from tmdb_devtools.gates import builds

    commands: list[list[str]] = []
    codes = iter([0, 0, 0, 0, 1, 1])
    monkeypatch.setattr(
        builds, "run", lambda cmd, root, **kwargs: commands.append(list(cmd)) or (next(codes), "")
    )
    monkeypatch.setattr(command, "real_sample_default", lambda: tmp_path / "no-sample-here")
    monkeypatch.delenv("FAULTS_COUNT", raising=False)
    assert builds.check_faults(tmp_path).ok
    replays, generate, campaign = commands
    assert replays[-1] == builds.FAULTS_REPLAY_TESTS
    assert generate[-5:-2] == ["sample", "--out", campaign[campaign.index("--real-sample") + 1]]
    assert campaign[campaign.index("faults") - 1] == "tmdb_devtools"
    assert int(campaign[campaign.index("--count") + 1]) >= 10
    sample = tmp_path / "sample"
    (sample / "movies" / "movies").mkdir(parents=True)
    monkeypatch.setattr(command, "real_sample_default", lambda: sample)
    monkeypatch.setenv("FAULTS_SEED", "1234")
    result = builds.check_faults(tmp_path)
    assert not result.ok and "replay" in result.problems[0]
    assert commands[-1][commands[-1].index("--seed") + 1] == "1234"
    assert commands[-1][commands[-1].index("--real-sample") + 1] == str(sample)
    assert builds.check_faults(tmp_path).problems[0].startswith(builds.FAULTS_REPLAY_TESTS)  # replays first
