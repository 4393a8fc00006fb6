"""Staging into the landing zone: batches, manifest, unchanged detection, locking, atomicity, safety."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import batch_lines, movie, pipeline_env, read_landing_like_dbt, run_tmdb, series
from tmdb_pipeline import stage
from tmdb_pipeline.errors import LockedError, UserError
from tmdb_pipeline.extract import sample
from tmdb_pipeline.landing_zone import existing_batches
from tmdb_pipeline.stage import StageResult, manifests

MANIFEST_KEYS = [
    "source_file",
    "entity",
    "size_bytes",
    "mtime_ns",
    "sha256",
    "status",
    "reason",
    "detail",
    "tmdb_id",
    "staged_at",
]


def run_stage(dataset: Path, landing: Path, **kwargs: Any) -> StageResult:
    kwargs.setdefault("workers", 1)
    return stage.stage(dataset, landing, source_label="test data", **kwargs)


def said(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the pipeline logged since the last look (INFO and above: the test sets the level)."""
    messages = list(caplog.messages)
    caplog.clear()
    return messages


def landing_state(landing: Path) -> dict[str, Any]:
    """What a landing zone holds, without timestamps: comparable across runs."""
    state: dict[str, Any] = {"batches": existing_batches(landing), "docs": set(), "manifest": set()}
    for batch in state["batches"]:
        for row in batch_lines(landing, batch, "*-[0-9]*.ndjson"):
            state["docs"].add((batch, row["source_file"], row["file_sha256"], orjson.dumps(row["doc"])))
        for row in batch_lines(landing, batch, "manifest.ndjson"):
            state["manifest"].add((batch, row["source_file"], row["status"], row["reason"], row["sha256"]))
    return state


# ----------------------------------------------------------------------------------------------------


def test_a_first_run_writes_one_batch_with_documents_manifest_and_summary(
    make_dataset, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tmdb_pipeline")
    raw_movie = b'{"id":10,"title":"Ten","runtime":90}'
    dataset = make_dataset(
        movies={"movie_10.json": raw_movie, "movie_11.json": movie(11), "movie_12.json": b"{oops"},
        series={"series_5.json": series(5)},
    )
    landing = tmp_path / "landing"
    result = run_stage(dataset, landing)

    assert result.batch_id == "b000001"
    assert result.seen == {"movies": 3, "series": 1}
    assert result.staged == {"movies": 2, "series": 1}
    assert result.quarantined == {"movies": 1, "series": 0}
    assert result.unchanged == {"movies": 0, "series": 0}
    assert result.reasons == {"invalid_json": 1}
    message = said(caplog)[0]
    assert message.startswith("Staged batch b000001 from the test data")
    assert "movies: 3 seen, 2 staged, 1 quarantined, 0 unchanged" in message

    batch = landing / "batch=b000001"
    assert sorted(p.name for p in batch.iterdir()) == [
        "manifest.ndjson",
        "movies-0.ndjson",
        "quarantine",
        "series-0.ndjson",
        "summary.json",
    ]
    assert not (landing / ".tmp").exists()
    docs = {row["source_file"]: row for row in batch_lines(landing, "b000001", "movies-*.ndjson")}
    assert set(docs) == {"movies/movies/movie_10.json", "movies/movies/movie_11.json"}
    line = next(x for x in (batch / "movies-0.ndjson").read_bytes().splitlines() if b"movie_10" in x)
    assert line.endswith(b',"doc":' + raw_movie + b"}")  # the original bytes, not a re-serialisation
    assert list(docs["movies/movies/movie_10.json"]) == ["source_file", "file_sha256", "doc"]

    manifest = batch_lines(landing, "b000001", "manifest.ndjson")
    assert len(manifest) == 4
    assert all(list(row) == MANIFEST_KEYS for row in manifest)
    by_file = {row["source_file"]: row for row in manifest}
    bad = by_file["movies/movies/movie_12.json"]
    assert (bad["status"], bad["reason"], bad["tmdb_id"], bad["entity"]) == (
        "quarantined",
        "invalid_json",
        None,
        "movies",
    )
    assert (batch / "quarantine" / f"{bad['sha256']}.bin").read_bytes() == b"{oops"
    ok = by_file["movies/movies/movie_10.json"]
    source = dataset / "movies/movies/movie_10.json"
    assert ok["size_bytes"] == len(raw_movie) and ok["mtime_ns"] == source.stat().st_mtime_ns
    assert (ok["status"], ok["reason"], ok["tmdb_id"]) == ("staged", None, 10)
    assert ok["sha256"] == docs["movies/movies/movie_10.json"]["file_sha256"]
    assert by_file["series/series/series_5.json"]["entity"] == "series"
    assert ok["staged_at"].endswith("Z")

    summary = orjson.loads((batch / "summary.json").read_bytes())
    assert summary["batch_id"] == "b000001" and summary["source"] == "test data"
    assert summary["entities"]["movies"] == {
        "seen": 3,
        "staged": 2,
        "quarantined": 1,
        "unchanged": 0,
        "still_quarantined": 0,
    }
    assert summary["reasons"] == {"invalid_json": 1}
    assert read_landing_like_dbt(landing) == {"movies": 2, "series": 1, "manifest": 4}


def test_staging_the_same_input_again_writes_nothing_and_says_so(
    make_dataset, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tmdb_pipeline")
    dataset = make_dataset(
        movies={f"movie_{i}.json": movie(i) for i in range(1, 6)}, series={"x.json": b"[]"}
    )
    landing = tmp_path / "landing"
    run_stage(dataset, landing)
    before = landing_state(landing)
    said(caplog)
    result = run_stage(dataset, landing)
    message = said(caplog)[0]
    assert result.batch_id is None
    assert result.unchanged == {"movies": 5, "series": 1} and result.seen == result.unchanged
    assert result.still_quarantined == {"movies": 0, "series": 1}
    assert (
        "Nothing new to stage" in message
        and "since batch b000001" in message
        and "no batch was written" in message
    )
    assert landing_state(landing) == before
    assert sorted(os.listdir(landing)) == [manifests.INDEX_NAME, ".stage.lock", "batch=b000001"]


def test_the_manifest_index_is_used_only_while_every_manifest_is_as_it_was(
    make_dataset, tmp_path: Path
) -> None:
    dataset = make_dataset(movies={f"movie_{i}.json": movie(i) for i in range(1, 6)})
    landing = tmp_path / "landing"
    run_stage(dataset, landing)
    index = landing / manifests.INDEX_NAME
    assert index.is_file()
    assert run_stage(dataset, landing).unchanged["movies"] == 5

    # a manifest rewritten without movie_1's line: the index is stale, and movie_1 is staged again
    manifest = landing / "batch=b000001" / "manifest.ndjson"
    lines = manifest.read_bytes().splitlines(keepends=True)
    manifest.write_bytes(b"".join(line for line in lines if b'"movies/movies/movie_1.json"' not in line))
    result = run_stage(dataset, landing)
    assert result.batch_id == "b000002" and result.staged["movies"] == 1

    # a damaged index is not trusted: the manifests are read again
    index.write_bytes(b"\x00 not an index")
    again = run_stage(dataset, landing)
    assert again.batch_id is None and again.unchanged["movies"] == 5


def test_the_index_brought_up_to_date_after_a_batch_is_the_next_runs_start(
    make_dataset, tmp_path: Path
) -> None:
    dataset = make_dataset(movies={f"movie_{i}.json": movie(i) for i in range(1, 6)})
    landing = tmp_path / "landing"
    run_stage(dataset, landing)
    batches = existing_batches(landing)
    identity = manifests._manifests_identity(landing, batches)
    assert manifests._read_index(landing, identity) is None  # made before batch b000001 existed
    manifests.index_in_background(landing).join()  # what `tmdb run` does while dbt builds
    indexed = manifests._read_index(landing, identity)
    assert indexed is not None and sorted(indexed) == [f"movies/movies/movie_{i}.json" for i in range(1, 6)]
    assert run_stage(dataset, landing).unchanged["movies"] == 5


def test_new_and_changed_files_go_into_a_new_batch_alone(make_dataset, tmp_path: Path) -> None:
    dataset = make_dataset(movies={f"movie_{i}.json": movie(i) for i in range(1, 6)})
    landing = tmp_path / "landing"
    run_stage(dataset, landing)
    folder = dataset / "movies/movies"
    (folder / "movie_2.json").write_bytes(orjson.dumps(movie(2, popularity=99.0)))  # changed
    (folder / "movie_6.json").write_bytes(orjson.dumps(movie(6)))  # new
    same = folder / "movie_3.json"
    os.utime(
        same, ns=(same.stat().st_atime_ns, same.stat().st_mtime_ns + 5_000_000_000)
    )  # touched, same bytes

    result = run_stage(dataset, landing)
    assert result.batch_id == "b000002"
    assert result.staged["movies"] == 2 and result.unchanged["movies"] == 4 and result.seen["movies"] == 6
    rows = batch_lines(landing, "b000002", "movies-*.ndjson")
    assert sorted(r["source_file"] for r in rows) == [
        "movies/movies/movie_2.json",
        "movies/movies/movie_6.json",
    ]
    assert (
        next(r for r in rows if r["doc"]["id"] == 2)["doc"]["popularity"] == 99.0
    )  # same id again: latest wins in dbt
    assert len(batch_lines(landing, "b000002", "manifest.ndjson")) == 2

    # the touched file was read and found identical: its new mtime is remembered, so the next run
    # skips every file without reading any
    assert (landing / ".verified.ndjson").read_bytes().startswith(b'["movies/movies/movie_3.json",')
    third = run_stage(dataset, landing)
    assert third.batch_id is None and third.unchanged["movies"] == 6
    assert third.bytes_read == 0


def test_the_same_id_twice_in_one_batch_is_staged_twice(make_dataset, tmp_path: Path) -> None:
    dataset = make_dataset(movies={"movie_7.json": movie(7), "movie_7_copy.json": movie(7, title="Copy")})
    result = run_stage(dataset, tmp_path / "landing")
    assert result.staged["movies"] == 2
    ids = [row["doc"]["id"] for row in batch_lines(tmp_path / "landing", "b000001", "movies-*.ndjson")]
    assert ids == [7, 7]


def test_a_quarantined_file_stays_quarantined_until_it_changes(
    make_dataset, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tmdb_pipeline")
    dataset = make_dataset(movies={"movie_1.json": b'{"id": "one"}'})
    landing = tmp_path / "landing"
    first = run_stage(dataset, landing)
    assert first.reasons == {"invalid_id": 1}
    said(caplog)
    again = run_stage(dataset, landing)
    assert again.batch_id is None and again.still_quarantined["movies"] == 1
    assert "1 of them still quarantined" in said(caplog)[0]
    (dataset / "movies/movies/movie_1.json").write_bytes(b'{"id": 1}')
    fixed = run_stage(dataset, landing)
    assert fixed.batch_id == "b000002" and fixed.staged["movies"] == 1


def test_a_document_spanning_lines_is_staged_on_one_line(make_dataset, tmp_path: Path) -> None:
    pretty = b'{\r\n  "id": 3,\r\n  "title": "Three \\n lines",\n  "genres": [\n    {"id": 18}\n  ]\n}\n'
    dataset = make_dataset(movies={"movie_3.json": pretty})
    run_stage(dataset, tmp_path / "landing")
    lines = (tmp_path / "landing/batch=b000001/movies-0.ndjson").read_bytes().splitlines()
    assert len(lines) == 1
    row = orjson.loads(lines[0])
    assert row["doc"] == orjson.loads(pretty)
    assert lines[0].endswith(b'"doc":' + pretty.strip().replace(b"\r", b" ").replace(b"\n", b" ") + b"}")


def test_parallel_and_sequential_runs_stage_the_same(generated_dataset: Path, tmp_path: Path) -> None:
    dataset = generated_dataset
    one = run_stage(dataset, tmp_path / "one", workers=1)
    two = run_stage(dataset, tmp_path / "two", workers=2)
    assert one.staged == two.staged == {"movies": 2000, "series": 500}
    assert len(list((tmp_path / "two/batch=b000001").glob("movies-*.ndjson"))) == 2  # one part per worker
    first, second = landing_state(tmp_path / "one"), landing_state(tmp_path / "two")
    assert first["docs"] == second["docs"] and first["manifest"] == second["manifest"]


def test_stale_temporary_files_of_a_killed_run_are_removed(make_dataset, tmp_path: Path) -> None:
    dataset = make_dataset(movies={"movie_1.json": movie(1)})
    landing = tmp_path / "landing"
    leftover = landing / ".tmp" / "batch=b000001"
    leftover.mkdir(parents=True)
    (leftover / "movies-0.ndjson").write_bytes(b'{"half a line')
    result = run_stage(dataset, landing)
    assert result.batch_id == "b000001"
    assert not (landing / ".tmp").exists()
    assert len(batch_lines(landing, "b000001", "movies-*.ndjson")) == 1


def test_a_held_lock_is_a_clear_error_naming_file_and_holder(make_dataset, tmp_path: Path) -> None:
    dataset = make_dataset(movies={"movie_1.json": movie(1)})
    landing = tmp_path / "landing"
    landing.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
            "os.write(fd, b'PID %d (a test holder)' % os.getpid())\n"
            "print('locked', flush=True)\ntime.sleep(60)\n",
            str(landing / ".stage.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError) as caught:
            run_stage(dataset, landing)
        message = str(caught.value)
        assert str(landing / ".stage.lock") in message and f"PID {holder.pid}" in message
        assert "wait for it to finish" in message
        assert caught.value.exit_code == 3
        assert existing_batches(landing) == []
        cli = run_tmdb(
            "stage",
            "--source",
            str(dataset),
            "--landing",
            str(landing),
            env=pipeline_env(TMDB_DATA_ROOT=str(tmp_path / "data")),
        )
        assert cli.returncode == 3 and "holds the lock file" in cli.stderr and "Traceback" not in cli.stderr
    finally:
        holder.kill()
        holder.wait()
    result = run_stage(dataset, landing)  # the lock went away with its process
    assert result.batch_id == "b000001"


def test_an_unwritable_landing_zone_is_a_clear_error(make_dataset, tmp_path: Path) -> None:
    dataset = make_dataset(movies={"movie_1.json": movie(1)})
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(UserError, match="cannot write to the landing zone") as caught:
        run_stage(dataset, blocker / "landing")
    assert "No batch was written" in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only folder")
def test_a_read_only_landing_zone_is_a_clear_error(make_dataset, tmp_path: Path) -> None:
    dataset = make_dataset(movies={"movie_1.json": movie(1)})
    landing = tmp_path / "landing"
    landing.mkdir()
    landing.chmod(0o555)
    try:
        with pytest.raises(UserError, match="cannot write to the landing zone"):
            run_stage(dataset, landing)
    finally:
        landing.chmod(0o755)


def test_a_full_disk_stops_staging_without_a_partial_batch(generated_dataset: Path, tmp_path: Path) -> None:
    dataset = generated_dataset
    landing = tmp_path / "landing"
    # A file-size limit makes writes past 256 KiB fail the way a full disk does (EFBIG instead of ENOSPC).
    limit = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))\n"
        "from tmdb_pipeline.cli import main\n"
        "sys.exit(main(['stage', '--source', sys.argv[1], '--landing', sys.argv[2]]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", limit, str(dataset), str(landing)],
        env=pipeline_env(TMDB_DATA_ROOT=str(tmp_path / "data")),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert (
        "is full" in done.stderr and "No batch was written" in done.stderr and "Traceback" not in done.stderr
    )
    assert existing_batches(landing) == []
    assert not (landing / ".tmp").exists()
    result = run_stage(dataset, landing, workers=2)  # with room again, a normal run
    assert result.staged == {"movies": 2000, "series": 500}


@pytest.mark.slow
def test_a_run_killed_midway_leaves_no_partial_batch_and_a_rerun_equals_a_clean_run(
    generated_dataset: Path, tmp_path: Path
) -> None:
    dataset = generated_dataset
    landing, clean = tmp_path / "landing", tmp_path / "clean"
    killed_midway, tries = False, 0
    while (
        not killed_midway and tries < 5
    ):  # kill as soon as the run writes its batch; retry if it finished first
        tries += 1
        shutil.rmtree(landing, ignore_errors=True)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tmdb_pipeline",
                "stage",
                "--source",
                str(dataset),
                "--landing",
                str(landing),
            ],
            env=pipeline_env(TMDB_DATA_ROOT=str(tmp_path / "data")),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if any((landing / ".tmp").glob("batch=*/*-[0-9].ndjson")):
                break
            time.sleep(0.002)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the run and its workers, all at once
            killed_midway = True
        proc.wait()
    assert killed_midway, f"the run always finished before it could be killed ({tries} tries)"
    wait_for_lock_release(landing / ".stage.lock")  # killed workers may take a moment to go
    assert existing_batches(landing) == []  # nothing half-written is visible
    assert count_batch_files(landing) == 0

    result = run_stage(dataset, landing, workers=2)
    assert result.batch_id == "b000001" and result.staged == {"movies": 2000, "series": 500}
    assert not (landing / ".tmp").exists()
    run_stage(dataset, clean, workers=2)
    assert landing_state(landing) == landing_state(clean)


def wait_for_lock_release(lock: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with open(lock, "rb") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                assert time.monotonic() < deadline, "the killed run's processes never let go of the lock"
                time.sleep(0.05)
                continue
            fcntl.flock(handle, fcntl.LOCK_UN)
            return


def count_batch_files(landing: Path) -> int:
    return len(list(landing.glob("batch=*/*.ndjson")))


def test_nothing_from_the_data_or_a_tampered_manifest_can_write_outside_the_landing_zone(
    make_dataset, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    odd_names = {
        "movie_1 with spaces.json": movie(1),
        'movie_2 "quoted" \\ back.json': movie(2),
        "movie_3\nnewline.json": movie(3),
        "..json": movie(4),
        "movie_5 ümlaut 日本.json": movie(5),
        "....json": b"not json",
    }
    dataset = make_dataset(movies=odd_names)
    raw_name = os.fsencode(dataset / "movies/movies") + b"/movie_6_\xff\xfe.json"  # not UTF-8
    with open(raw_name, "wb") as f:
        f.write(orjson.dumps(movie(6)))
    landing = tmp_path / "zone" / "landing"
    run_stage(dataset, landing)

    # tamper with the manifest: paths that climb out, a checksum that is a path
    manifest = landing / "batch=b000001" / "manifest.ndjson"
    evil = {
        "source_file": "../../../escaped.json",
        "entity": "movies",
        "size_bytes": 1,
        "mtime_ns": 1,
        "sha256": "../../../escaped",
        "status": "quarantined",
        "reason": "invalid_json",
        "detail": None,
        "tmdb_id": None,
        "staged_at": "2020-01-01T00:00:00Z",
    }
    with open(manifest, "ab") as f:
        f.write(
            orjson.dumps(evil) + b"\n" + orjson.dumps({**evil, "sha256": "a" * 64}) + b"\n" + b"garbage\n"
        )
    (dataset / "movies/movies/movie_7.json").write_bytes(b"{broken")

    outside_before = sorted(p for p in tmp_path.rglob("*") if landing not in p.parents and p != landing)
    caplog.set_level(logging.INFO, logger="tmdb_pipeline")
    result = stage.stage(dataset, landing, source_label="x", workers=1)
    outside_after = sorted(p for p in tmp_path.rglob("*") if landing not in p.parents and p != landing)
    assert outside_after == outside_before
    assert result.batch_id == "b000002" and result.quarantined["movies"] == 1
    assert any(
        record.levelno == logging.WARNING and "unreadable line" in record.getMessage()
        for record in caplog.records
    )
    assert [p.name for p in (landing / "batch=b000002/quarantine").iterdir()] == [
        f"{batch_lines(landing, 'b000002', 'manifest.ndjson')[0]['sha256']}.bin"
    ]

    staged = {row["source_file"] for row in batch_lines(landing, "b000001", "movies-*.ndjson")}
    assert "movies/movies/movie_3\nnewline.json" in staged
    assert 'movies/movies/movie_2 "quoted" \\ back.json' in staged
    assert "movies/movies/movie_6_\\xff\\xfe.json" in staged
    assert read_landing_like_dbt(landing, ("movies",)) == {"movies": 6}


@pytest.mark.real_data
def test_the_real_sample_stages_whole_and_unchanged(real_sample_dir: Path, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    result = run_stage(real_sample_dir, landing, workers=2)
    n_movies = len(os.listdir(real_sample_dir / "movies/movies"))
    n_series = len(os.listdir(real_sample_dir / "series/series"))
    assert result.seen == result.staged == {"movies": n_movies, "series": n_series}
    assert result.quarantined == {"movies": 0, "series": 0}
    lines = [
        line
        for path in sorted((landing / "batch=b000001").glob("*-[0-9].ndjson"))
        for line in path.read_bytes().splitlines()
    ]
    assert len(lines) == n_movies + n_series
    for line in lines:
        row = orjson.loads(line)
        original = (real_sample_dir / row["source_file"]).read_bytes()
        assert line.endswith(b',"doc":' + original + b"}")  # byte for byte, \u0026 escapes included
    assert read_landing_like_dbt(landing) == {
        "movies": n_movies,
        "series": n_series,
        "manifest": n_movies + n_series,
    }
    again = run_stage(real_sample_dir, landing, workers=2)
    assert again.batch_id is None


def test_tmdb_stage_stages_a_folder(make_dataset, tmp_path: Path) -> None:
    dataset = make_dataset(movies={"movie_1.json": movie(1)})
    env = pipeline_env(TMDB_DATA_ROOT=str(tmp_path / "data"))
    done = run_tmdb("stage", "--source", str(dataset), "--landing", str(tmp_path / "landing"), env=env)
    assert done.returncode == 0, done.stderr
    assert f"Staged batch b000001 from the folder {dataset}" in done.stdout
    assert "1 files seen = 1 staged + 0 quarantined + 0 unchanged" in done.stdout  # the summary
    assert (tmp_path / "data" / "current").resolve().name.startswith("folder-")
    missing = run_tmdb(
        "stage", "--source", str(tmp_path / "nope"), "--landing", str(tmp_path / "landing"), env=env
    )
    assert (
        missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    )


def test_manifest_blocks_parse_like_lines() -> None:
    rows = [{"source_file": f"movies/movies/movie_{i}.json", "n": i} for i in range(50)]
    data = b"\n".join(orjson.dumps(row) for row in rows) + b"\n"
    assert list(manifests._manifest_rows(data, block=100)) == rows  # many small blocks
    broken = data.replace(b'"n":7}', b'"n":7', 1)
    parsed = list(manifests._manifest_rows(broken, block=100))
    assert parsed[7] is None and parsed[:7] + parsed[8:] == rows[:7] + rows[8:]


def test_a_later_snapshot_stages_only_what_changed(tmp_path: Path) -> None:
    """Version 2 of the sample, staged after version 1 into the same landing zone (the SCD2 scenario)."""
    v1, v2, landing = tmp_path / "v1", tmp_path / "v2", tmp_path / "landing"
    sample.generate(v1, sample.SampleSpec(movies=300, series=100, version=1), workers=1)
    sample.generate(v2, sample.SampleSpec(movies=300, series=100, version=2), workers=1)
    run_stage(v1, landing)
    result = run_stage(v2, landing)  # every file has a new mtime: all are hashed, few differ
    changed = {
        f"{entity}/{entity}/{p.name}"
        for entity in ("movies", "series")
        for p in (v2 / entity / entity).iterdir()
        if not (v1 / entity / entity / p.name).exists()
        or (v1 / entity / entity / p.name).read_bytes() != p.read_bytes()
    }
    assert result.batch_id == "b000002"
    assert sum(result.staged.values()) == len(changed) and 0 < len(changed) < 100
    staged = {row["source_file"] for row in batch_lines(landing, "b000002", "*-[0-9].ndjson")}
    assert staged == changed
    assert result.seen == {"movies": 303, "series": 101}  # version 2 adds 1% new titles
    again = run_stage(v2, landing)
    assert again.batch_id is None and again.bytes_read == 0  # identical files were remembered as such
    assert result.unchanged == {entity: result.seen[entity] - result.staged[entity] for entity in result.seen}


def test_a_progress_bar_can_be_forced_on(
    make_dataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = make_dataset(movies={f"movie_{i}.json": movie(i) for i in range(1, 4)})
    stage.stage(dataset, tmp_path / "landing", source_label="x", workers=1, progress=True)
    assert "Staging" in capsys.readouterr().err
    stage.stage(dataset, tmp_path / "landing2", source_label="x", workers=1)
    assert capsys.readouterr().err == ""  # not a terminal: no bar unless asked


def test_an_empty_dataset_is_an_error_not_an_empty_batch(make_dataset, tmp_path: Path) -> None:
    dataset = make_dataset()  # both folders, no files
    with pytest.raises(UserError, match="has no files in movies/movies or series/series"):
        run_stage(dataset, tmp_path / "landing")
    assert existing_batches(tmp_path / "landing") == []
