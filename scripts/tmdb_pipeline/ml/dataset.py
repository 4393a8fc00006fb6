"""The training data: the ML mart as published (Parquet), never the warehouse file, split by release date.

A reader of the published set sees one immutable version (warehouse.publish); the model records which one
(`data_version`, the publish's version and its source), so a model can always be traced to its data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.ml.contract import MART, Contract, check_published_columns
from tmdb_pipeline.warehouse.publish import read_manifest, resolve_published

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

# The share of labelled movies, the latest by release date, held out as the test split.
TEST_SHARE = 0.2
# Fewer labelled movies than this and no model is trained: its figures would describe noise.
MIN_LABELLED = 300


class DatasetError(UserError):
    """The published set cannot be trained on; the message names the fix."""


class TooFewRows(UserError):
    """Not an error of the data: too few movies with a known revenue to train and test a model."""

    exit_code = 0


@dataclass(frozen=True)
class DataVersion:
    version: str  # the publish's version folder name
    folder: Path
    built_at: str
    source_kind: str
    dataset: str

    @property
    def synthetic(self) -> bool:
        """The built-in sample is generated: a model trained on it describes no real film."""
        return self.source_kind == "sample"

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "built_at": self.built_at,
            "source_kind": self.source_kind,
            "dataset": self.dataset,
            "synthetic": self.synthetic,
        }


@dataclass
class Dataset:
    data: DataVersion
    frame: pd.DataFrame  # every movie: the contract's columns
    labelled: pd.DataFrame  # movies with a known revenue and release date, sorted by release date
    unlabelled: pd.DataFrame  # movies without a known revenue: predicted, never trained on
    undated: int  # labelled movies without a release date: they fit neither side of a time split


@dataclass(frozen=True)
class Published:
    """A published set's ML mart, checked against the contract but not read yet."""

    data: DataVersion
    file: Path


def load(publish_dir: Path, contract: Contract) -> Dataset:
    """The published ML mart of `publish_dir` (a publish root holding `latest`, or one version folder)."""
    return read(find(publish_dir, contract), contract)


def read(published: Published, contract: Contract) -> Dataset:
    frame = _read(published.file, [c.name for c in contract.columns])
    return split_labelled(published.data, frame, contract)


def find(publish_dir: Path, contract: Contract) -> Published:
    """The published set's version and its ML mart's file, its columns checked: what a run with nothing new
    needs to tell that its model is current, without reading the mart."""
    folder = resolve_published(publish_dir)
    if folder is None:
        raise DatasetError(
            f"there is no published set in {publish_dir}: the model trains on the published marts only. Run"
            " `make run` (or `tmdb build` then `tmdb publish`) first."
        )
    try:
        manifest = read_manifest(folder)
    except (OSError, ValueError) as error:
        raise DatasetError(
            f"the published manifest {folder / 'manifest.json'} cannot be read ({error}); publish again"
            " (`tmdb publish`)."
        ) from None
    relation = manifest.get("relations", {}).get(MART)
    if relation is None:
        raise DatasetError(
            f"the published set {folder.name} has no {MART}: it is older than the ML mart or was built"
            " without it. Run `make run` to build and publish it."
        )
    check_published_columns(relation.get("columns", {}), contract, f"published version {folder.name}")
    source = manifest.get("source", {})
    data = DataVersion(
        version=str(manifest.get("version", folder.name)),
        folder=folder,
        built_at=str(manifest.get("built_at", "")),
        source_kind=str(source.get("kind", "unknown")),
        dataset=str(source.get("dataset", "")),
    )
    return Published(data, folder / relation["file"])


def _read(path: Path, columns: list[str]) -> pd.DataFrame:
    import duckdb

    select = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
    try:
        with duckdb.connect() as con:
            return con.execute(f"select {select} from read_parquet(?)", [str(path)]).df()
    except duckdb.Error as error:
        raise DatasetError(f"cannot read {path} ({error}); publish again (`tmdb publish`).") from None


def split_labelled(data: DataVersion, frame: pd.DataFrame, contract: Contract) -> Dataset:
    label, time = contract.label, contract.time
    # a set large enough to train on with no label at all is a broken mart; a small one is just too few
    # (time_split says so, and the run goes on without a model)
    if frame[label].notna().sum() == 0 and len(frame) >= MIN_LABELLED:
        raise DatasetError(
            f"the label {label} is NULL in every one of the {len(frame):,} published movies, so there is"
            " nothing to learn from. Check the revenue in the source files and the staging of `revenue`"
            " (models/staging/stg_tmdb__movies.sql), then run `make run` again."
        )
    known = frame[frame[label].notna() & (frame[label] > 0)]
    dated = known[known[time].notna()]
    labelled = dated.sort_values([time, "tmdb_id"], kind="stable").reset_index(drop=True)
    unlabelled = frame[frame[label].isna()].sort_values("tmdb_id", kind="stable").reset_index(drop=True)
    return Dataset(data, frame, labelled, unlabelled, undated=len(known) - len(dated))


@dataclass(frozen=True)
class TimeSplit:
    train: pd.DataFrame
    test: pd.DataFrame
    cutoff: str  # the first release date of the test split

    def dates(self, time: str) -> dict[str, str]:
        return {
            "train_first": _day(self.train[time].min()),
            "train_last": _day(self.train[time].max()),
            "test_first": _day(self.test[time].min()),
            "test_last": _day(self.test[time].max()),
        }


def _day(value: Any) -> str:
    import pandas as pd

    return pd.Timestamp(value).date().isoformat()


def time_split(labelled: pd.DataFrame, time: str, test_share: float = TEST_SHARE) -> TimeSplit:
    """Train on earlier releases, test on the latest ~test_share. The cut falls between two dates: movies
    released on the cutoff day all go to the test split, so no day is on both sides."""
    if len(labelled) < MIN_LABELLED:
        raise TooFewRows(
            f"no model: {len(labelled):,} movies with a known revenue and release date, at least"
            f" {MIN_LABELLED:,} are needed (the built-in sample and small folders have too few)."
        )
    ordered = labelled.sort_values([time, "tmdb_id"], kind="stable").reset_index(drop=True)
    cutoff = ordered[time].iloc[int(len(ordered) * (1 - test_share))]
    train, test = ordered[ordered[time] < cutoff], ordered[ordered[time] >= cutoff]
    if len(train) == 0 or len(test) == 0:
        raise TooFewRows(f"no model: every labelled movie has the same release date ({cutoff}).")
    return TimeSplit(train.reset_index(drop=True), test.reset_index(drop=True), _day(cutoff))
