"""What must hold after every fault, checked on the pipeline's on-disk contract only: the landing zone
(batches, manifests, documents), the published set (`publish/latest` and its manifest.json), the DuckDB
warehouse (every core and mart table against a clean build's, by `tmdb_devtools.checksums`) and the
box-office model (`ml/latest` and its card, or the card of a model that lost to the baseline).

Each check returns the problems it found, one readable line each; an empty list is a pass.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb

from tmdb_devtools.checksums import differences, table_checksums
from tmdb_pipeline.ml.publishing import CARD, LATEST, MODEL_FILE, PREDICTIONS, REJECTED_CARD

INVARIANTS = (
    "recovery run green",
    "published set whole",
    "published set is the last green build's",
    "landing zone: no half batch",
    "landing zone: nothing staged twice or lost",
    "core and mart tables equal a clean build's",
    "reader saw no error and no partial set",
    "the model is the published set's, whole",
    "a second run is refused while the first is stopped",
)
# what a clean run's training left (model_state): a published model, the card of one that lost to the mean
# baseline, or no model (too few movies with a known revenue)
PUBLISHED_MODEL, REJECTED_MODEL, NO_MODEL = "published", "rejected", "none"
MODEL_FILES = (CARD, PREDICTIONS, MODEL_FILE)
BATCH_FILES = ("manifest.ndjson", "summary.json")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def published_version(publish_dir: Path) -> Path | None:
    link = publish_dir / "latest"
    if not (link.is_symlink() or link.exists()):
        return None
    return link.resolve()


def published_whole(publish_dir: Path, *, required: bool) -> list[str]:
    """`latest` names a version whose manifest matches its files: every relation's file there, with the
    manifest's rows and columns. No `latest` is whole too, unless one is `required`."""
    version = published_version(publish_dir)
    if version is None:
        return ["nothing is published"] if required else []
    return check_version(version)


def check_version(version: Path) -> list[str]:
    import duckdb

    try:
        manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return [f"{version.name}: no readable manifest.json ({error})"]
    problems = []
    relations: dict[str, Any] = manifest.get("relations") or {}
    if not relations:
        problems.append(f"{version.name}: the manifest lists no relations")
    listed = {info.get("file") for info in relations.values()}
    on_disk = {p.name for p in version.glob("*.parquet")}
    if on_disk != listed:
        problems.append(f"{version.name}: files {sorted(on_disk ^ listed)} not both listed and present")
    with duckdb.connect() as con:
        for info in relations.values():
            path = version / str(info.get("file"))
            try:
                (rows,) = con.execute(f"select count(*) from read_parquet({_literal(str(path))})").fetchone()
                described = con.execute(f"describe select * from read_parquet({_literal(str(path))})")
                columns = {c: t for c, t, *_ in described.fetchall()}
            except duckdb.Error as error:
                problems.append(f"{version.name}/{path.name}: unreadable ({str(error).splitlines()[0]})")
                continue
            if rows != info.get("rows"):
                problems.append(
                    f"{version.name}/{path.name}: {rows} rows, the manifest says {info.get('rows')}"
                )
            if columns != info.get("columns"):
                problems.append(f"{version.name}/{path.name}: columns differ from the manifest's")
    return problems


def published_checksums(publish_dir: Path) -> dict[str, dict[str, Any]]:
    """The published set's tables, compared as the warehouse's are (load lineage left out)."""
    import duckdb

    version = published_version(publish_dir)
    if version is None:
        return {}
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="published-") as scratch:
        database = Path(scratch) / "published.duckdb"
        with duckdb.connect(str(database)) as con:
            con.execute("create schema marts")
            for name, info in manifest["relations"].items():
                con.execute(
                    f"create table marts.{_ident(name)} as select * from "
                    f"read_parquet({_literal(str(version / info['file']))})"
                )
        return table_checksums(database, ("marts",))


def published_matches(
    publish_dir: Path, reference: dict[str, dict[str, Any]], batches: list[str]
) -> list[str]:
    """The published set holds what the last green build (the clean reference) holds, and names the
    batches that build read."""
    version = published_version(publish_dir)
    if version is None:
        return ["nothing is published"]
    problems = [f"published {line}" for line in differences(reference, published_checksums(publish_dir))]
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    named = [b.get("batch_id") for b in manifest.get("batches", [])]
    if named != batches:
        problems.append(f"the published manifest names batches {named}, the landing zone holds {batches}")
    return problems


def landing_whole(landing: Path) -> list[str]:
    """Every visible batch is complete: its manifest, its summary and each document file the summary
    implies. (`.tmp/` may hold a killed run's leftovers: it is not a batch, and the next run clears it.)"""
    problems = []
    for batch in sorted(landing.glob("batch=*")):
        missing = [name for name in BATCH_FILES if not (batch / name).is_file()]
        if missing:
            problems.append(f"{batch.name} has no {', '.join(missing)}")
            continue
        manifest = _manifest(batch)
        staged = Counter(row["entity"] for row in manifest if row["status"] == "staged")
        documents = Counter()
        for entity in ("movies", "series"):
            for part in batch.glob(f"{entity}-*.ndjson"):
                documents[entity] += sum(1 for line in part.read_bytes().splitlines() if line)
        if staged != documents:
            problems.append(f"{batch.name}: manifest stages {dict(staged)}, documents hold {dict(documents)}")
    return problems


def _manifest(batch: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (batch / "manifest.ndjson").read_bytes().splitlines() if line]


def landing_reconciles(landing: Path, source: Path) -> list[str]:
    """No file staged twice or lost: across the batches, each (file, content) is recorded once, and the
    latest record of every file in the source is of its current content."""
    problems = []
    latest: dict[str, str] = {}
    recorded = Counter()
    for batch in sorted(landing.glob("batch=*")):
        if not (batch / "manifest.ndjson").is_file():
            continue
        for row in _manifest(batch):
            recorded[(row["source_file"], row["sha256"])] += 1
            latest[row["source_file"]] = row["sha256"]
    twice = sorted(f"{file} ({n}x)" for (file, _), n in recorded.items() if n > 1)
    if twice:
        problems.append(f"{len(twice)} files staged more than once: {', '.join(twice[:5])}")
    files = {p.relative_to(source).as_posix(): p for p in source.glob("*/*/*.json")}
    lost = sorted(set(files) - set(latest))
    if lost:
        problems.append(f"{len(lost)} source files in no batch: {', '.join(lost[:5])}")
    stale = sorted(name for name, path in files.items() if name in latest and latest[name] != _sha256(path))
    if stale:
        problems.append(
            f"{len(stale)} files whose latest record is not their content: {', '.join(stale[:5])}"
        )
    unknown = sorted(set(latest) - set(files))
    if unknown:
        problems.append(f"{len(unknown)} recorded files not in the source: {', '.join(unknown[:5])}")
    return problems


def _card_version(card: Path) -> str | None:
    try:
        return str(json.loads(card.read_text(encoding="utf-8"))["data"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def model_state(folder: Path) -> str:
    """What training left for the published set of the data folder `folder` (a clean run's reference)."""
    published = published_version(folder / "publish")
    if published is None:
        return NO_MODEL
    if _card_version(folder / "ml" / LATEST / CARD) == published.name:
        return PUBLISHED_MODEL
    if _card_version(folder / "ml" / REJECTED_CARD) == published.name:
        return REJECTED_MODEL
    return NO_MODEL


def model_matches(folder: Path, reference: str) -> list[str]:
    """After the recovery run the model stands as after a clean run: published and whole (card, predictions
    and model file, the card naming the published set), or rejected with a card naming it, or absent."""
    state = model_state(folder)
    if state != reference:
        return [f"the model is {state}, a clean run leaves it {reference}"]
    if state != PUBLISHED_MODEL:
        return []
    latest = (folder / "ml" / LATEST).resolve()
    problems = [
        f"ml/latest ({latest.name}) has no {name}" for name in MODEL_FILES if not (latest / name).is_file()
    ]
    if not problems:
        try:
            with duckdb.connect() as con:
                path = _literal(str(latest / PREDICTIONS))
                (rows,) = con.execute(f"select count(*) from read_parquet({path})").fetchone()
            if rows == 0:
                problems.append(f"ml/latest ({latest.name}) has no predictions")
        except duckdb.Error as error:
            problems.append(f"ml/latest ({latest.name}): its predictions cannot be read: {error}")
    return problems


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tables_match(warehouse: Path, reference: dict[str, dict[str, Any]]) -> list[str]:
    if not warehouse.exists():
        return ["no warehouse"]
    try:
        checksums = table_checksums(warehouse)
    except duckdb.Error as error:  # a broken invariant to record, not the end of the campaign
        return [f"the warehouse cannot be opened: {error}"]
    return differences(reference, checksums)


class Reader(threading.Thread):
    """A reader of the published files during a fault, as the dashboard reads them: resolve `latest` once,
    then read the manifest and every file it lists, checking each file's rows against the manifest. Any
    error, or a set whose files do not match its manifest, is a problem."""

    def __init__(self, publish_dir: Path, pause_s: float = 0.15) -> None:
        super().__init__(daemon=True)
        self.publish_dir = publish_dir
        self.pause_s = pause_s
        self.problems: list[str] = []
        self.reads = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        import duckdb

        with duckdb.connect() as con:
            while not self.stopping.is_set():
                link = self.publish_dir / "latest"
                if link.is_symlink() or link.exists():
                    self._read(con, link.resolve())
                self.stopping.wait(self.pause_s)

    def _read(self, con: Any, version: Path) -> None:
        import duckdb

        try:
            manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
            for info in manifest["relations"].values():
                path = _literal(str(version / info["file"]))
                (rows,) = con.execute(f"select count(*) from read_parquet({path})").fetchone()
                if rows != info["rows"]:
                    self.problems.append(
                        f"{version.name}/{info['file']}: {rows} rows, manifest {info['rows']}"
                    )
            self.reads += 1
        except (OSError, ValueError, KeyError, duckdb.Error) as error:
            self.problems.append(f"reading {version.name}: {type(error).__name__}: {error}")

    def stop(self) -> list[str]:
        self.stopping.set()
        self.join(timeout=30)
        return sorted(set(self.problems))


def wait_for(condition: Any, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
