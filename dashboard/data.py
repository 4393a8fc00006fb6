"""Reading the published marts: the only way the dashboard's pages get data.

The pipeline publishes the marts of every green build as Parquet files
(scripts/tmdb_pipeline/warehouse/publish.py):
`<data dir>/publish/<version>/<relation>.parquet` plus `manifest.json`, with `latest` pointing at the newest
version. The dashboard never opens the DuckDB warehouse, so it never blocks a build nor is broken by one.

Where: `TMDB_PUBLISH_DIR` (or `--publish-dir` after `--` on the streamlit command line), a publish folder
(holding `latest`) or one version folder; by default `data/current/publish`, the folder staged last. A page
resolves `latest` once per load (`open_published`) and runs every query of that load on that version;
queries are cached per version folder, so a new publish is read on the next interaction and the cache of the
old one is never served for it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

REPO_ROOT = Path(__file__).resolve().parents[1]
# data/current: the data folder staged last (TMDB_DATA_ROOT moves data/, as for the pipeline)
DEFAULT_PUBLISH_DIR = Path(os.environ.get("TMDB_DATA_ROOT", REPO_ROOT / "data")) / "current" / "publish"
MANIFEST = "manifest.json"
HISTORY = "history"  # the run history's published snapshots, beside the versions
TMDB_URL = "https://www.themoviedb.org"


class NothingPublished(Exception):
    """No published version where the dashboard looks."""


class PublishedDataError(Exception):
    """A published file is missing or lacks a column a page needs; the message names the file and column."""


def publish_dir() -> Path:
    """Where to look: TMDB_PUBLISH_DIR, else `--publish-dir DIR` in the app's arguments, else the default."""
    if os.environ.get("TMDB_PUBLISH_DIR"):
        return Path(os.environ["TMDB_PUBLISH_DIR"]).expanduser()
    args = sys.argv[1:]
    for i, arg in enumerate(args):
        if arg == "--publish-dir" and i + 1 < len(args):
            return Path(args[i + 1]).expanduser()
        if arg.startswith("--publish-dir="):
            return Path(arg.split("=", 1)[1]).expanduser()
    return DEFAULT_PUBLISH_DIR


def resolve_version(folder: Path) -> Path:
    """The version folder to read: `folder` itself when it holds a manifest, else what `latest` points at."""
    if (folder / MANIFEST).is_file():
        return folder.resolve()
    latest = folder / "latest"
    if (latest / MANIFEST).is_file():
        return latest.resolve()
    raise NothingPublished(str(folder))


@dataclass(frozen=True)
class Published:
    """One published version, as a page sees it for one load."""

    folder: Path
    manifest: Mapping[str, Any]

    @property
    def version(self) -> str:
        return str(self.manifest.get("version") or self.folder.name)

    def file(self, relation: str) -> Path:
        return self.folder / f"{relation}.parquet"

    def require(self, needs: Mapping[str, Sequence[str]]) -> None:
        """Check that every relation a page reads is published with every column the page uses."""
        for relation, columns in needs.items():
            path = self.file(relation)
            if not path.is_file():
                raise PublishedDataError(
                    f"{path}: file missing; this page reads {relation} (columns {', '.join(columns)})."
                )
            present = set(_columns(str(path), self.version))
            for column in columns:
                if column not in present:
                    raise PublishedDataError(
                        f"{path}: no column `{column}`, which this page needs. The file has: "
                        f"{', '.join(sorted(present))}."
                    )

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run SQL where `{relation}` stands for that relation's published file; cached per version."""
        return _query(str(self.folder), self.version, sql, tuple(params))

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        frame = self.query(sql, params)
        return None if frame.empty else frame.iat[0, 0]

    def history(self) -> RunHistory | None:
        """The run history published beside the marts (`<publish>/history/latest/`), or None if no run was
        recorded yet (tmdb_pipeline.monitoring)."""
        latest = self.folder.parent / HISTORY / "latest"
        if not (latest / "invocations.parquet").is_file():
            return None
        return RunHistory(latest.resolve())


@dataclass(frozen=True)
class RunHistory:
    """One published snapshot of the run history: `{invocations}`, `{node_results}`, ... in a query."""

    folder: Path

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        # a snapshot never changes once published: its folder name is the cache key
        return _query(str(self.folder), self.folder.name, sql, tuple(params))


class NoModel(Exception):
    """No box-office model published beside the marts (or its card cannot be read)."""


@dataclass(frozen=True)
class PublishedModel:
    """The box-office model published beside the marts (`<data dir>/ml/<version>/`, `tmdb ml`)."""

    folder: Path
    card: Mapping[str, Any]

    def predictions(self) -> pd.DataFrame:
        return _predictions(str(self.folder / "predictions.parquet"), str(self.card.get("version")))


def model_dir() -> Path:
    """`<data dir>/ml`: TMDB_ML_DIR, else the sibling of the publish folder the dashboard reads."""
    if os.environ.get("TMDB_ML_DIR"):
        return Path(os.environ["TMDB_ML_DIR"]).expanduser()
    folder = publish_dir()
    data_dir = folder.parent.parent if (folder / MANIFEST).is_file() else folder.parent
    return data_dir / "ml"


def open_model() -> PublishedModel:
    """The model `latest` points at, resolved once for this load (raises NoModel)."""
    folder = model_dir() / "latest"
    card = folder / "model_card.json"
    if not card.is_file() or not (folder / "predictions.parquet").is_file():
        raise NoModel(str(model_dir()))
    version = folder.resolve()
    try:
        return PublishedModel(version, _model_card(str(version)))
    except (OSError, ValueError) as error:
        raise NoModel(f"{card}: {error}") from None


@st.cache_data(show_spinner=False, max_entries=8)
def _model_card(folder: str) -> dict[str, Any]:
    return json.loads((Path(folder) / "model_card.json").read_text(encoding="utf-8"))


@st.cache_data(show_spinner=False, max_entries=8)
def _predictions(path: str, version: str) -> pd.DataFrame:
    with duckdb.connect() as con:
        return con.execute(
            "select * exclude (title_key) from read_parquet(?) where split = 'test'", [path]
        ).df()


def open_published() -> Published:
    """The published version to read for this load (raises NothingPublished)."""
    folder = resolve_version(publish_dir())
    manifest = _manifest(str(folder))
    return Published(folder=folder, manifest=manifest)


@st.cache_data(show_spinner=False, max_entries=8)
def _manifest(folder: str) -> dict[str, Any]:
    # a version folder never changes once published, so its path is the cache key
    return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))


@st.cache_data(show_spinner=False, max_entries=64)
def _columns(path: str, version: str) -> list[str]:
    with duckdb.connect() as con:
        return [
            row[0] for row in con.execute(f"describe select * from read_parquet({_literal(path)})").fetchall()
        ]


@st.cache_data(show_spinner=False, max_entries=512)
def _query(folder: str, version: str, sql: str, params: tuple[Any, ...]) -> pd.DataFrame:
    relations = _Relations(Path(folder))
    with duckdb.connect() as con:
        return con.execute(sql.format_map(relations), list(params)).df()


class _Relations(dict[str, str]):
    """`{mart_x}` in a query -> read_parquet of the published file of mart_x."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def __missing__(self, relation: str) -> str:
        return f"read_parquet({_literal(str(self.folder / f'{relation}.parquet'))})"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def tmdb_link(title_type: str, tmdb_id: int) -> str:
    """The title's page on TMDB: /movie/<id> or /tv/<id>."""
    return f"{TMDB_URL}/{'movie' if title_type == 'movie' else 'tv'}/{int(tmdb_id)}"
