"""Reliability, end to end: each hostile situation is built for real, the real commands run
(`tmdb run|stage|build`, what `make run` calls), and the tests check the reason given, the
counts, and that the warehouse is unharmed.

Staging's own unit tests (tests/python/test_stage*.py) cover each quarantine class, a killed staging run,
the staging lock, a full disk and path safety in isolation; these tests cover the pipeline as a user runs it.
Every run happens in a sandbox (tests/python/_pipeline_helpers.py): nothing touches the repository's data/.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from _pipeline_helpers import (
    LAYERS,
    REPO_ROOT,
    Run,
    Sandbox,
    batch_summary,
    batches,
    duplicate_rows,
    lock_is_free,
    manifest_rows,
    printed_batch,
    printed_counts,
    printed_reasons,
    query,
    row_counts,
    wait_until,
    warehouse_unlocked,
    working_relations,
)
from conftest import movie, series
from tmdb_devtools.checksums import differences, table_checksums
from tmdb_pipeline.extract import sample
from tmdb_pipeline.stage import MAX_DOC_BYTES

pytestmark = pytest.mark.slow

ENTITY_FOLDERS = {"movies": "movies/movies", "series": "series/series"}
# A command that fails for a reason the user must fix says so within this time (python and duckdb start-up
# on a busy 2-core machine included), instead of waiting or getting halfway.
FAST_FAILURE_S = 10.0


@pytest.fixture(scope="session")
def make_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Sandbox]:
    shared = tmp_path_factory.mktemp("pipeline-shared")
    (shared / "slot-folder").mkdir()
    (shared / "slot").symlink_to(shared / "slot-folder")

    def make(name: str) -> Sandbox:
        return Sandbox(tmp_path_factory.mktemp(name), shared / "target", shared / "slot" / "tmdb.duckdb")

    return make


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 movies + 50 series from the sample generator (real shapes and quirks) and two broken files."""
    folder = tmp_path_factory.mktemp("small-dataset") / "dataset"
    sample.generate(folder, sample.SampleSpec(movies=200, series=50), workers=1)
    # and two files for the quarantine, so that every core and mart table has rows to compare
    (folder / "movies/movies/movie_999999001.json").write_bytes(b"")
    (folder / "series/series/series_999999002.json").write_bytes(b'{"id": "999999002"}')
    return folder


def expect_ok(run: Run) -> Run:
    assert run.returncode == 0, run.describe()
    assert "Traceback" not in run.output, run.describe()
    return run


def expect_clear_failure(run: Run, exit_code: int, *phrases: str) -> None:
    """A failure the user can act on: the expected exit code, fast, each phrase in the message, no trace."""
    assert run.returncode == exit_code, run.describe()
    assert "Traceback" not in run.output, run.describe()
    for phrase in phrases:
        assert phrase in run.stderr, f"{phrase!r} not in the error message:\n{run.describe()}"
    assert run.elapsed_s < FAST_FAILURE_S, run.describe()


# ====================================================================================================
# 1. A dataset folder full of hostile files, staged and built twice (the second time with changes)


def doc(value: dict[str, Any]) -> bytes:
    return orjson.dumps(value)


COMPANY_1 = {"id": 1, "name": "First Company", "origin_country": "US"}
TWENTY_TWO_LISTS = {
    "genres": [{"id": 18, "name": "Drama"}, {"id": 35, "name": "Comedy"}],
    "production_companies": [COMPANY_1, {"id": 2, "name": "Second Company", "origin_country": "FR"}],
}


def season(number: int) -> dict[str, Any]:
    return {"id": 7000 + number, "season_number": number, "name": f"Season {number}", "episode_count": 10}


OVERSIZED = object()  # written as a sparse file just over the size limit
# (entity, file name) -> (content, expected quarantine reason or None for staged)
HOSTILE_RUN1: dict[tuple[str, str], tuple[Any, str | None]] = {
    **{("movies", f"movie_{i}.json"): (doc(movie(i)), None) for i in range(1, 6)},
    ("movies", "movie_10.json"): (doc(movie(10, runtime="90 min")), None),
    ("movies", "movie_11.json"): (doc(movie(11, genres={"id": 18, "name": "Drama"})), None),
    ("movies", "movie_12.json"): (
        doc(movie(12, brand_new_field={"nested": [1, None]}, extra_list=[1])),
        None,
    ),
    # the same id twice in one batch: the first file in name order wins, the other is a removed duplicate
    ("movies", "movie_20.json"): (doc(movie(20, title="Twenty, first file")), None),
    ("movies", "movie_20_copy.json"): (doc(movie(20, title="Twenty, second file")), None),
    ("movies", "movie_21.json"): (doc(movie(21, title="Twenty-one, first version")), None),
    ("movies", "movie_22.json"): (
        doc(movie(22, title="Twenty-two", popularity=1.5, **TWENTY_TWO_LISTS)),
        None,
    ),
    ("movies", "movie_901.json"): (b'{"id": 901, "title": "Truncat', "invalid_json"),
    ("movies", "movie_902.json"): (b"", "empty_file"),
    ("movies", "movie_903.json"): (b'[{"id": 903}]', "not_an_object"),
    ("movies", "movie_904.json"): (b'{"title": "no id at all"}', "missing_id"),
    ("movies", "movie_905.json"): (b'{"id": "905", "title": "string id"}', "invalid_id"),
    ("movies", "movie_906.json"): (b'{"id": 906.5, "title": "float id"}', "invalid_id"),
    ("movies", "movie_907.json"): (b'{"id": -907, "title": "negative id"}', "invalid_id"),
    ("movies", "movie_908.json"): (b'{"id": null, "title": "null id"}', "invalid_id"),
    ("movies", "movie_909.json"): (b'{"id": 909, "title": "caf\xe9 in Latin-1"}', "not_utf8"),
    ("movies", "movie_910.json"): (OVERSIZED, "oversized"),
    ("movies", "movie_911.json"): (doc(series(911)), "wrong_entity"),
    ("movies", "notes.txt"): (b"not a document", "not_json_file"),
    **{("series", f"series_{i}.json"): (doc(series(i)), None) for i in (1, 3)},
    ("series", "series_2.json"): (doc(series(2, seasons=[season(0), season(1), season(2)])), None),
    ("series", "series_50.json"): (doc(series(50, number_of_seasons="two")), None),
    ("series", "series_951.json"): (b'{"id": 951,, "name": "x"}', "invalid_json"),
}
# Second run: a newer copy of id 21 in a new file, 22 rewritten, the broken 901 repaired, a new empty file.
HOSTILE_RUN2: dict[tuple[str, str], tuple[Any, str | None]] = {
    ("movies", "movie_21_v2.json"): (doc(movie(21, title="Twenty-one, second version")), None),
    # its lists shrink: no genre left, one company of two (an incremental build must drop the others)
    ("movies", "movie_22.json"): (
        doc(
            movie(
                22,
                title="Twenty-two, rewritten",
                popularity=99.5,
                genres=[],
                production_companies=[COMPANY_1],
            )
        ),
        None,
    ),
    ("series", "series_2.json"): (doc(series(2, seasons=[season(1)])), None),
    ("movies", "movie_901.json"): (doc(movie(901, title="Repaired")), None),
    ("movies", "movie_912.json"): (b"", "empty_file"),
}


def write_files(root: Path, files: dict[tuple[str, str], tuple[Any, str | None]]) -> None:
    for (entity, name), (content, _) in files.items():
        path = root / ENTITY_FOLDERS[entity] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is OVERSIZED:
            with open(path, "wb") as big:
                big.write(b'{"id": 910, "padding": "')
                big.truncate(MAX_DOC_BYTES + 1024)
        else:
            path.write_bytes(content)


def expected_counts(
    files: dict[tuple[str, str], tuple[Any, str | None]], unchanged: dict[str, int] | None = None
) -> dict[str, dict[str, int]]:
    """What the summary should say for a run that found `files` new or changed and `unchanged` files not."""
    counts = {}
    for entity in ENTITY_FOLDERS:
        verdicts = [reason for (e, _), (_, reason) in files.items() if e == entity]
        staged, same = sum(reason is None for reason in verdicts), (unchanged or {}).get(entity, 0)
        counts[entity] = {
            "seen": len(verdicts) + same,
            "staged": staged,
            "quarantined": len(verdicts) - staged,
            "unchanged": same,
        }
    return counts


@dataclass
class HostileRuns:
    sandbox: Sandbox
    dataset: Path
    first: Run
    second: Run
    after_first: Path  # a copy of the warehouse as the first run left it

    @property
    def landing(self) -> Path:
        return self.sandbox.landing()

    @property
    def warehouse(self) -> Path:
        return self.sandbox.warehouse


@pytest.fixture(scope="module")
def hostile(make_sandbox: Callable[[str], Sandbox]) -> HostileRuns:
    sandbox = make_sandbox("hostile")
    dataset = sandbox.root / "dataset"
    write_files(dataset, HOSTILE_RUN1)
    first = sandbox.run("run", "--source", str(dataset))
    after_first = sandbox.copy_warehouse_to(sandbox.root / "after-first" / "tmdb.duckdb")
    time.sleep(0.01)  # rewritten files get a new modification time
    write_files(dataset, HOSTILE_RUN2)
    second = sandbox.run("run", "--source", str(dataset))
    return HostileRuns(sandbox, dataset, first, second, after_first)


def test_a_folder_of_hostile_files_runs_to_the_end_twice(hostile: HostileRuns) -> None:
    expect_ok(hostile.first)
    expect_ok(hostile.second)
    assert printed_batch(hostile.first.stdout) == "b000001"
    assert printed_batch(hostile.second.stdout) == "b000002"
    assert batches(hostile.landing) == ["b000001", "b000002"]
    # the second build has the first one's code, so dbt's unit tests (fixtures, no data) are not run again
    assert "Unit tests    not run" not in hostile.first.stdout
    assert "Unit tests    not run" in hostile.second.stdout


def test_summary_manifest_and_batch_summary_agree_on_every_file(hostile: HostileRuns) -> None:
    expect_ok(hostile.first)
    manifest = manifest_rows(hostile.landing)
    untouched = Counter(entity for entity, name in HOSTILE_RUN1 if (entity, name) not in HOSTILE_RUN2)
    for run, batch, files, unchanged in (
        (hostile.first, "b000001", HOSTILE_RUN1, None),
        (hostile.second, "b000002", HOSTILE_RUN2, dict(untouched)),
    ):
        expected = expected_counts(files, unchanged)
        assert printed_counts(run.stdout) == expected, run.describe()
        written = batch_summary(hostile.landing, batch)
        assert {e: {k: v[k] for k in expected[e]} for e, v in written["entities"].items()} == expected
        reasons = Counter(reason for _, reason in files.values() if reason)
        assert printed_reasons(run.stdout) == reasons == written["reasons"], run.describe()
        # every new or changed file exactly once in the batch's manifest, with its verdict
        in_batch = [row for row in manifest if row["batch_id"] == batch]
        assert sorted((row["entity"], row["source_file"]) for row in in_batch) == sorted(
            (entity, f"{ENTITY_FOLDERS[entity]}/{name}") for entity, name in files
        )
        for row in in_batch:
            _, reason = files[(row["entity"], row["source_file"].rsplit("/", 1)[1])]
            assert (row["status"], row["reason"]) == ("staged" if reason is None else "quarantined", reason)
            if reason is not None:  # the quarantined bytes are kept, named by checksum
                kept = hostile.landing / f"batch={batch}" / "quarantine" / f"{row['sha256']}.bin"
                assert kept.is_file() and kept.stat().st_size == row["size_bytes"], row


def test_the_warehouse_quarantine_is_the_manifest_quarantine(hostile: HostileRuns) -> None:
    expect_ok(hostile.second)
    from_manifest = {
        (row["batch_id"], row["entity"], row["source_file"], row["reason"])
        for row in manifest_rows(hostile.landing)
        if row["status"] == "quarantined"
    }
    assert len(from_manifest) == 14
    in_mart = query(
        hostile.warehouse,
        "select batch_id, entity, source_file, quarantine_reason, quarantine_copy_path"
        " from marts.mart_audit__quarantined_files",
    )
    assert {row[:4] for row in in_mart} == from_manifest
    assert len(in_mart) == len(from_manifest)
    for *_, copy_path in in_mart:
        assert (hostile.landing / copy_path).is_file(), copy_path
    in_staging = query(
        hostile.warehouse,
        "select batch_id, entity, source_file, quarantine_reason from staging.stg_tmdb__manifest"
        " where load_status = 'quarantined'",
    )
    assert set(in_staging) == from_manifest and len(in_staging) == len(from_manifest)
    # the summary's quarantine line names the table to look in
    assert "marts.mart_audit__quarantined_files" in hostile.first.stdout


def staged_movie(warehouse: Path, movie_id: int) -> dict[str, Any]:
    columns = "title, runtime_minutes, genres_json, invalid_fields, duplicates_removed, batch_id, source_file"
    rows = query(warehouse, f"select {columns} from staging.stg_tmdb__movies where movie_id = ?", [movie_id])
    assert len(rows) == 1, f"movie {movie_id}: {len(rows)} rows in staging"
    return dict(zip([c.strip() for c in columns.split(",")], rows[0], strict=True))


def flags(value: str | None) -> set[str]:
    return set(re.split(r"\s*,\s*", value)) if value else set()


def test_wrong_typed_fields_are_null_and_flagged_not_dropped(hostile: HostileRuns) -> None:
    expect_ok(hostile.first)
    runtime = staged_movie(hostile.warehouse, 10)
    assert runtime["runtime_minutes"] is None and "runtime" in flags(runtime["invalid_fields"])
    assert runtime["title"] == "Film 10"  # the rest of the document is kept
    genres = staged_movie(hostile.warehouse, 11)
    assert genres["genres_json"] is None and "genres" in flags(genres["invalid_fields"])
    assert genres["runtime_minutes"] == 90
    unknown = staged_movie(hostile.warehouse, 12)  # unknown fields are neither an error nor kept as columns
    assert unknown["invalid_fields"] in (None, "") and unknown["title"] == "Film 12"
    (seasons,) = query(
        hostile.warehouse,
        "select invalid_fields from staging.stg_tmdb__series"
        " where series_id = 50 and number_of_seasons is null",
    )
    assert "number_of_seasons" in flags(seasons[0])
    # flagged titles still reach the core
    (in_core,) = query(
        hostile.warehouse,
        "select count(*) from core.dim_titles where title_type = 'movie' and tmdb_id in (10, 11, 12)",
    )
    assert in_core == (3,)


def test_the_latest_copy_of_an_id_wins(hostile: HostileRuns) -> None:
    expect_ok(hostile.second)
    twice_in_a_batch = staged_movie(hostile.warehouse, 20)
    assert twice_in_a_batch["title"] == "Twenty, first file"
    assert twice_in_a_batch["source_file"] == "movies/movies/movie_20.json"
    assert twice_in_a_batch["duplicates_removed"] == 1
    newer_file = staged_movie(hostile.warehouse, 21)  # the same id in a new file of a later run
    assert (newer_file["title"], newer_file["batch_id"]) == ("Twenty-one, second version", "b000002")
    assert (
        newer_file["source_file"] == "movies/movies/movie_21_v2.json"
        and newer_file["duplicates_removed"] == 1
    )
    rewritten = staged_movie(hostile.warehouse, 22)  # the same file, changed between runs
    assert (rewritten["title"], rewritten["batch_id"], rewritten["duplicates_removed"]) == (
        "Twenty-two, rewritten",
        "b000002",
        1,
    )
    repaired = staged_movie(hostile.warehouse, 901)  # quarantined first, staged once fixed
    assert (repaired["title"], repaired["batch_id"], repaired["duplicates_removed"]) == (
        "Repaired",
        "b000002",
        0,
    )
    core = dict(
        query(
            hostile.warehouse,
            "select tmdb_id, title from core.dim_titles"
            " where title_type = 'movie' and tmdb_id in (20, 21, 22)",
        )
    )
    assert core == {20: "Twenty, first file", 21: "Twenty-one, second version", 22: "Twenty-two, rewritten"}
    # the first run's warehouse had the older versions
    before = dict(query(hostile.after_first, "select movie_id, title from staging.stg_tmdb__movies"))
    assert (before[21], before[22]) == ("Twenty-one, first version", "Twenty-two")
    assert 901 not in before
    # the title history keeps both versions of 22 (its popularity changed), one of them current
    history = query(
        hostile.warehouse,
        "select tmdb_id, count(*), count(*) filter (where is_current) from core.dim_title_history"
        " where title_type = 'movie' group by tmdb_id having count(*) > 1",
    )
    assert history == [(22, 2, 1)]


def test_the_incremental_second_run_equals_a_build_from_scratch_of_the_same_batches(
    hostile: HostileRuns, make_sandbox: Callable[[str], Sandbox]
) -> None:
    """The second run re-derived only the titles of its batch (staging and intermediate are incremental).
    A build from scratch over a copy of the same landing zone must give the same tables, lists that
    shrank (movie 22's genres and companies, series 2's seasons) included."""
    expect_ok(hostile.second)
    fresh = make_sandbox("from-scratch")
    shutil.copytree(hostile.sandbox.data_root, fresh.data_root, symlinks=True)
    expect_ok(fresh.run("build"))
    schemas = ("intermediate", "core", "marts")
    incremental, scratch = (
        table_checksums(hostile.warehouse, schemas),
        table_checksums(fresh.warehouse, schemas),
    )
    for checksums in (incremental, scratch):
        del checksums["core.dim_title_history"]  # every version seen, against only the latest one
    assert differences(incremental, scratch) == []
    lists = (
        "select (select count(*) from intermediate.int_title_genres_unnested where title_type = 'movie'"
        " and tmdb_id = 22), (select count(*) from intermediate.int_title_companies_unnested"
        " where title_type = 'movie' and tmdb_id = 22), (select count(*) from"
        " intermediate.int_series_seasons_unnested where series_id = 2)"
    )
    assert query(hostile.after_first, lists) == [(2, 2, 3)]
    assert query(hostile.warehouse, lists) == [(0, 1, 1)]


def test_every_file_and_every_id_is_accounted_for(hostile: HostileRuns) -> None:
    expect_ok(hostile.second)
    manifest = manifest_rows(hostile.landing)
    for entity, table, key, title_type in (
        ("movies", "stg_tmdb__movies", "movie_id", "movie"),
        ("series", "stg_tmdb__series", "series_id", "series"),
    ):
        rows = [row for row in manifest if row["entity"] == entity]
        staged = [row for row in rows if row["status"] == "staged"]
        ((staging_rows, staging_ids, removed),) = query(
            hostile.warehouse,
            f"select count(*), count(distinct {key}), sum(duplicates_removed) from staging.{table}",
        )
        assert staging_rows == staging_ids == len({row["tmdb_id"] for row in staged})
        # staged ids = staging ids + duplicates removed
        assert len(staged) == staging_rows + removed, (entity, len(staged), staging_rows, removed)
        ((raw_rows,),) = query(hostile.warehouse, f"select count(*) from raw.raw_tmdb__{entity}")
        assert raw_rows == len(staged)
        # staging titles = core titles
        ((core_titles,),) = query(
            hostile.warehouse,
            "select count(*) from core.dim_titles where title_type = ? and not is_unknown_member",
            [title_type],
        )
        ((facts,),) = query(
            hostile.warehouse, "select count(*) from core.fct_titles where title_type = ?", [title_type]
        )
        assert core_titles == facts == staging_rows
        # the reconciliation mart says the same, and that it all adds up
        ((seen, files_staged, quarantined, raw, distinct, dups, staging, core, ok),) = query(
            hostile.warehouse,
            "select files_seen, files_staged, files_quarantined, raw_rows, distinct_raw_ids,"
            " duplicates_removed, staging_rows, core_titles, is_reconciled"
            " from marts.mart_audit__load_reconciliation where entity = ?",
            [entity],
        )
        assert (seen, files_staged, quarantined) == (len(rows), len(staged), len(rows) - len(staged))
        assert (raw, distinct, dups, staging, core, ok) == (
            raw_rows,
            staging_rows,
            removed,
            staging_rows,
            core_titles,
            True,
        )
    # files seen = staged + quarantined + unchanged, per entity and run (the printed summary)
    for run in (hostile.first, hostile.second):
        for entity, counts in printed_counts(run.stdout).items():
            assert counts["seen"] == counts["staged"] + counts["quarantined"] + counts["unchanged"], entity


# ====================================================================================================
# 3 + 4. The same input twice; a second run while the first is running; a warehouse held open


@dataclass
class TwiceRuns:
    sandbox: Sandbox
    dataset: Path
    first: Run
    second: Run
    contender: Run  # started while `second` was running
    second_pid: int
    first_checksums: dict[str, Any]
    first_counts: dict[str, int]
    first_warehouse: Path  # a copy: the clean reference warehouse for this dataset


@pytest.fixture(scope="module")
def twice(make_sandbox: Callable[[str], Sandbox], small_dataset: Path) -> TwiceRuns:
    sandbox = make_sandbox("twice")
    first = expect_ok(sandbox.run("run", "--source", str(small_dataset)))
    reference = sandbox.copy_warehouse_to(sandbox.root / "reference" / "tmdb.duckdb")
    checksums, counts = table_checksums(reference, LAYERS), row_counts(reference)
    with sandbox.in_slot():
        # --rebuild: a full dbt build on input it has already loaded (a plain `run` would skip dbt here)
        running = sandbox.start("run", "--source", str(small_dataset), "--rebuild")
        try:
            wait_until(
                lambda: f"PID {running.pid} " in sandbox.lock_file.read_text() or not running.running(),
                timeout=120,
                what="the second run to take the pipeline lock",
            )
            assert running.running(), "the second run ended before a third could be started beside it"
            contender = sandbox.run("run", "--source", str(small_dataset), warehouse=False, timeout=120)
            second = running.wait(timeout=900)
        finally:
            if running.running():
                running.kill()
    return TwiceRuns(
        sandbox, small_dataset, first, second, contender, running.pid, checksums, counts, reference
    )


def test_the_same_input_twice_gives_identical_marts_and_no_duplicates(twice: TwiceRuns) -> None:
    expect_ok(twice.second)
    assert printed_batch(twice.second.stdout) is None, "the second run staged something"
    assert batches(twice.sandbox.landing()) == ["b000001"]
    assert not (twice.sandbox.landing() / ".tmp").exists()
    warehouse = twice.sandbox.warehouse
    assert differences(twice.first_checksums, table_checksums(warehouse, LAYERS)) == []
    assert twice.first_counts == row_counts(warehouse)
    assert duplicate_rows(warehouse) == {}
    assert working_relations(warehouse) == []
    core_and_marts = [name for name in twice.first_checksums if name.split(".")[0] in ("core", "marts")]
    assert len(core_and_marts) >= 20 and all(twice.first_counts[name] > 0 for name in core_and_marts)


def test_the_primary_key_test_names_each_failed_check(twice: TwiceRuns, tmp_path: Path) -> None:
    """One primary_key test stands for unique + not_null + columns_not_null: planted on a copy of the
    warehouse, a duplicate key and a NULL in a required column each come back as a row naming them."""
    compiled = list(
        twice.sandbox.target_dir.glob(
            "compiled/tmdb/models/core/_core__models.yml/primary_key_dim_genres_*.sql"
        )
    )
    assert len(compiled) == 1, compiled
    query = compiled[0].read_text()
    copy = shutil.copy2(twice.first_warehouse, tmp_path / "tmdb.duckdb")
    assert query_rows(copy, query) == []
    with duckdb.connect(str(copy)) as con:
        first, last = con.execute("select min(genre_id), max(genre_id) from core.dim_genres").fetchone()
        con.execute("insert into core.dim_genres select * from core.dim_genres where genre_id = ?", [first])
        con.execute("update core.dim_genres set genre_name = null where genre_id = ?", [last])
    assert sorted(query_rows(copy, query)) == [("duplicate key (genre_key)", 2), ("null genre_name", 1)]


def query_rows(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_a_run_with_nothing_new_skips_dbt_and_leaves_the_warehouse_as_it_was(twice: TwiceRuns) -> None:
    rerun = expect_ok(twice.sandbox.run("run", "--source", str(twice.dataset)))
    assert printed_batch(rerun.stdout) is None
    assert "dbt build     skipped on target duckdb: nothing new was staged" in rerun.stdout, rerun.describe()
    assert "Completed successfully" not in rerun.stdout  # dbt did not start
    assert "reconciled" in rerun.stdout  # the summary still reads the warehouse's accounting
    assert differences(twice.first_checksums, table_checksums(twice.sandbox.warehouse, LAYERS)) == []


def test_a_second_run_while_one_is_running_stops_at_once(twice: TwiceRuns) -> None:
    lock = twice.sandbox.lock_file
    expect_clear_failure(
        twice.contender,
        3,
        "This checkout's pipeline",
        "is in use by another process",
        f"PID {twice.second_pid} ",
        str(lock),
        "Wait for that run to finish",
        "This run changed nothing",
    )
    # the run it collided with finished unharmed (its warehouse is checked just above)
    expect_ok(twice.second)
    assert lock_is_free(lock)


def test_a_warehouse_held_open_elsewhere_is_named_and_left_alone(twice: TwiceRuns) -> None:
    sandbox = twice.sandbox
    holder_code = (
        "import sys, time, duckdb\ncon = duckdb.connect(sys.argv[1])\n"
        "print('open', flush=True)\ntime.sleep(300)\n"
    )
    with sandbox.in_slot():
        holder = subprocess.Popen(
            [sys.executable, "-c", holder_code, str(sandbox.slot)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
            build = sandbox.run("build", warehouse=False)
            run = sandbox.run("run", "--source", str(twice.dataset), warehouse=False)
        finally:
            holder.kill()
            holder.wait()
    for attempt in (build, run):
        expect_clear_failure(
            attempt, 3, f"The warehouse {sandbox.slot} is locked by another process", "Close that process"
        )
        assert f"PID {holder.pid}" in attempt.stderr, attempt.describe()  # DuckDB names the holder
    assert differences(twice.first_checksums, table_checksums(sandbox.warehouse, LAYERS)) == []


# ====================================================================================================
# 2. dbt killed (SIGKILL, the whole process group) halfway through a build, then run again

CORE_MODEL_DONE = re.compile(r"Finished running node model\.tmdb\.(dim|fct|bridge)_")


def test_a_build_killed_halfway_leaves_nothing_half_written_and_a_rerun_equals_a_clean_run(
    make_sandbox: Callable[[str], Sandbox], twice: TwiceRuns
) -> None:
    sandbox = make_sandbox("killed")
    expect_ok(sandbox.run("stage", "--source", str(twice.dataset)))
    with sandbox.in_slot():
        build = sandbox.start("build")
        try:
            wait_until(
                lambda: (
                    not build.running()
                    or (sandbox.dbt_log.exists() and CORE_MODEL_DONE.search(sandbox.dbt_log.read_text()))
                ),
                timeout=600,
                what="dbt to finish its first core model",
                interval=0.02,
            )
            killed_midway = build.running()
        finally:
            build.kill()
        assert killed_midway, "the build finished before it could be killed"
        assert lock_is_free(sandbox.lock_file)  # the pipeline lock went with the killed run
        wait_until(lambda: warehouse_unlocked(sandbox.slot), timeout=60, what="the killed dbt to let go")
    log = sandbox.dbt_log.read_text()
    assert "Finished running" in log and "Completed successfully" not in log
    # Nothing half-written is visible: no working relations, and every relation that exists is complete
    # (equal to the clean run's).
    killed_state = table_checksums(sandbox.warehouse, LAYERS)
    assert working_relations(sandbox.warehouse) == []
    assert 0 < len(killed_state) < len(twice.first_checksums), "the kill came before or after all models"
    assert differences(killed_state, {name: twice.first_checksums[name] for name in killed_state}) == []

    rerun = expect_ok(sandbox.run("build"))
    assert "dbt build     OK" in rerun.stdout
    assert differences(twice.first_checksums, table_checksums(sandbox.warehouse, LAYERS)) == []
    assert twice.first_counts == row_counts(sandbox.warehouse)
    assert working_relations(sandbox.warehouse) == []


# ====================================================================================================
# 5. Unwritable warehouse or landing zone; a full disk


def test_a_warehouse_path_that_cannot_be_written_stops_before_dbt(twice: TwiceRuns, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the warehouse folder should be")
    for command in (("build",), ("run", "--source", str(twice.dataset))):
        attempt = twice.sandbox.run(*command, warehouse=False, TMDB_DUCKDB_PATH=str(blocker / "tmdb.duckdb"))
        expect_clear_failure(
            attempt, 2, f"Cannot write the warehouse folder {blocker}", "The warehouse was not touched"
        )
        assert "dbt build" not in attempt.stdout  # dbt never started
    assert blocker.read_text() == "a file where the warehouse folder should be"
    assert differences(twice.first_checksums, table_checksums(twice.sandbox.warehouse, LAYERS)) == []


def test_a_landing_zone_that_cannot_be_written_stops_before_anything_is_written(
    make_sandbox: Callable[[str], Sandbox], small_dataset: Path
) -> None:
    sandbox = make_sandbox("unwritable-landing")
    blocker = sandbox.root / "a-file"
    blocker.write_text("not a folder")
    attempt = sandbox.run("run", "--source", str(small_dataset), TMDB_LANDING_DIR=str(blocker / "landing"))
    expect_clear_failure(attempt, 2, "cannot write to the landing zone", "No batch was written")
    assert_nothing_built(sandbox)


def assert_nothing_built(sandbox: Sandbox) -> None:
    assert not sandbox.warehouse.exists() and not sandbox.slot.exists()
    assert not (sandbox.data_root / "current").exists()
    assert not list(sandbox.data_root.glob("*/landing/batch=*"))


@pytest.fixture
def mount_tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Mount a small tmpfs (a full disk, a read-only disk); skipped where mounting is not allowed."""
    mounted: list[Path] = []

    def mount(name: str, size: str, read_only: bool = False) -> Path:
        point = tmp_path / name
        point.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True, text=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_read_only_warehouse_and_landing_zone_are_clear_errors(
    make_sandbox: Callable[[str], Sandbox], small_dataset: Path, mount_tmpfs: Callable[..., Path]
) -> None:
    read_only = mount_tmpfs("read-only", "1m", read_only=True)
    sandbox = make_sandbox("read-only")
    attempt = sandbox.run("run", "--source", str(small_dataset), TMDB_LANDING_DIR=str(read_only / "landing"))
    expect_clear_failure(attempt, 2, "cannot write to the landing zone", "Read-only file system")
    assert_nothing_built(sandbox)
    staged = expect_ok(sandbox.run("stage", "--source", str(small_dataset)))
    assert printed_batch(staged.stdout) == "b000001"
    attempt = sandbox.run("build", TMDB_DUCKDB_PATH=str(read_only / "tmdb.duckdb"))
    expect_clear_failure(
        attempt, 2, f"Cannot write the warehouse folder {read_only}", "Read-only file system"
    )


def test_a_full_landing_disk_stops_staging_with_no_batch(
    make_sandbox: Callable[[str], Sandbox], small_dataset: Path, mount_tmpfs: Callable[..., Path]
) -> None:
    full = mount_tmpfs("full-landing", "256k")
    sandbox = make_sandbox("full-landing")
    attempt = sandbox.run("run", "--source", str(small_dataset), TMDB_LANDING_DIR=str(full / "landing"))
    expect_clear_failure(attempt, 2, "is full", "No batch was written")
    assert not list((full / "landing").glob("batch=*")) and not (full / "landing" / ".tmp").exists()
    assert_nothing_built(sandbox)


def test_a_full_warehouse_disk_fails_the_build_and_a_rerun_with_room_equals_a_clean_run(
    make_sandbox: Callable[[str], Sandbox], twice: TwiceRuns, mount_tmpfs: Callable[..., Path]
) -> None:
    disk = mount_tmpfs("full-warehouse", "3m")  # room for the writability probe (1 MiB), not the warehouse
    sandbox = make_sandbox("full-warehouse")
    expect_ok(sandbox.run("stage", "--source", str(twice.dataset)))
    with sandbox.slot_on(disk):
        failed = sandbox.run("build")
        assert failed.returncode == 1, failed.describe()
        assert "Traceback" not in failed.stderr, failed.describe()
        assert "dbt build     FAILED" in failed.stdout, failed.describe()
        assert "No space left on device" in failed.stdout, failed.describe()  # in the summary's failures
        if sandbox.warehouse.exists():  # whatever the failed build committed is whole: as in a clean run
            state = table_checksums(sandbox.warehouse, LAYERS)
            assert working_relations(sandbox.warehouse) == []
            assert differences(state, {name: twice.first_checksums.get(name) for name in state}) == []
        subprocess.run(["mount", "-o", "remount,size=512m", str(disk)], check=True)
        rerun = expect_ok(sandbox.run("build"))
    assert "dbt build     OK" in rerun.stdout
    assert differences(twice.first_checksums, table_checksums(sandbox.warehouse, LAYERS)) == []


# ====================================================================================================
# 6. dbt by hand: the summary's command works as printed, in the state the run left


def test_the_summarys_dbt_by_hand_line_works_as_printed_and_the_next_run_says_why_it_builds(
    twice: TwiceRuns,
) -> None:
    sandbox = twice.sandbox
    run = expect_ok(sandbox.run("run", "--source", str(twice.dataset)))
    (line,) = re.findall(r"^By hand\s+(.+?)\s{3}\(", run.stdout, re.MULTILINE)
    packages_missing = "dbt-expectations tests were SKIPPED" in twice.first.stdout
    # dbt alone stops on packages.yml when its packages are missing: then the line is the pipeline's wrapper
    assert (" dbt build" in line and "tmdb dbt build" in line) == packages_missing, line
    for command in (line, line.replace(" build", " compile --select resource_type:analysis")):
        with sandbox.in_slot():
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=REPO_ROOT,
                env=sandbox.env(),
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
        assert done.returncode == 0, (
            f"{command} -> exit {done.returncode}\n{done.stdout[-3000:]}{done.stderr}"
        )
        assert "Traceback" not in done.stdout + done.stderr
    assert len(list(sandbox.target_dir.glob("compiled/tmdb/analyses/*.sql"))) == 3
    again = expect_ok(sandbox.run("run", "--source", str(twice.dataset)))
    (why,) = re.findall(r"^  built although nothing new was staged: (.+)$", again.stdout, re.MULTILINE)
    assert "ran by hand" in why or "the warehouse was written since the last green build" in why, why
    assert differences(twice.first_checksums, table_checksums(sandbox.warehouse, LAYERS)) == []


# ====================================================================================================
# 7. Secrets stay out of everything the pipeline writes; git ignores credentials and data

FAKE_KAGGLE_USER = "reliability-test-user"
FAKE_KAGGLE_KEY = "f00dfeedcafe5ec12e7b0bb1e5deadbe"  # 32 hex digits, like a real key


def files_under(*roots: Path) -> Iterator[Path]:
    for root in roots:
        if not root.exists():
            continue
        for dirpath, _, names in os.walk(root, followlinks=False):
            for name in names:
                path = Path(dirpath) / name
                if path.is_file() and not path.is_symlink():
                    yield path


def test_a_kaggle_key_in_the_environment_is_written_nowhere(make_sandbox: Callable[[str], Sandbox]) -> None:
    sandbox = make_sandbox("secrets")
    run = expect_ok(
        sandbox.run(
            "run",
            "--source",
            "sample",
            KAGGLE_USERNAME=FAKE_KAGGLE_USER,
            KAGGLE_KEY=FAKE_KAGGLE_KEY,
            TMDB_SAMPLE_SIZE="40",
        )
    )
    assert "built-in synthetic sample" in run.stdout
    secrets = [
        FAKE_KAGGLE_KEY.encode(),
        FAKE_KAGGLE_KEY.upper().encode(),
        base64.b64encode(f"{FAKE_KAGGLE_USER}:{FAKE_KAGGLE_KEY}".encode()),
    ]
    assert not any(secret.decode() in run.output for secret in secrets)
    written = list(files_under(sandbox.root, sandbox.target_dir, sandbox.slot.parent))
    landing = sandbox.landing()
    assert any(path.name == "manifest.ndjson" for path in written)
    assert any(path.name == "summary.json" and landing in path.parents for path in written)
    assert any(path.name == "dbt.log" for path in written)
    assert any(path.name == "run_results.json" for path in written)
    assert sandbox.warehouse in written
    leaks = [str(path) for path in written if any(secret in path.read_bytes() for secret in secrets)]
    assert leaks == []


def test_git_ignores_credentials_data_and_warehouses() -> None:
    git = shutil.which("git")
    if git is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    must_ignore = [
        "kaggle.json",
        "scripts/kaggle.json",
        ".kaggle/kaggle.json",
        ".env",
        ".env.local",
        "data/",
        "data/current",
        "data/sample/landing/batch=b000001/manifest.ndjson",
        "data/folder-x-12345678/landing/batch=b000001/quarantine/ab.bin",
        "data/sample/tmdb.duckdb",
        "warehouse.duckdb",
        "somewhere/else/tmdb.duckdb",
        "somewhere/else/tmdb.duckdb.wal",
        "target/run_results.json",
        "logs/dbt.log",
        "dbt_packages/dbt_expectations/dbt_project.yml",
    ]
    done = subprocess.run(
        [git, "check-ignore", "--no-index", "-v", *must_ignore],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    ignored = {line.split("\t", 1)[1] for line in done.stdout.splitlines() if "\t" in line}
    assert sorted(set(must_ignore) - ignored) == []
    tracked = subprocess.run(
        [git, "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    bad = [
        name
        for name in tracked
        if name.startswith(b"data/")
        or name.endswith((b".duckdb", b".duckdb.wal", b"kaggle.json"))
        or name.split(b"/")[-1] in (b".env",)
    ]
    assert bad == []
