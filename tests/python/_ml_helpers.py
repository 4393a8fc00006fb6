"""A published set written by hand for the ML tests: the ML mart with the columns and types of the real
contract, labels that follow the budget and a genre with noise, and its manifest; no dbt build needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from tmdb_pipeline.ml import contract as contract_module
from tmdb_pipeline.ml.contract import load_contract

CONTRACT = load_contract()
PUBLISH_VERSION = "20260101T000000.000000Z"


def _values(column: contract_module.Column, n: int, rng: Any) -> Any:
    import numpy as np
    import pandas as pd

    kind = column.data_type.lower()
    if column.name == "title_key":
        return [f"k{i:06d}" for i in range(n)]
    if column.name == "tmdb_id":
        return np.arange(1, n + 1)
    if column.name == "release_date":
        days = rng.integers(0, 365 * 30, n)
        return pd.to_datetime("1990-01-01") + pd.to_timedelta(days, unit="D")
    if column.name == "budget_usd":
        budget = np.exp(rng.normal(16, 1.5, n)).round()
        return pd.array(np.where(rng.random(n) < 0.2, np.nan, budget), dtype="Int64")
    if kind == "boolean":
        return rng.random(n) < 0.5
    if kind == "varchar":
        return rng.choice(["en", "fr", "de", "ja", None], n)
    if kind == "date":
        return pd.to_datetime("2000-01-01") + pd.to_timedelta(rng.integers(0, 5000, n), unit="D")
    if kind == "double":
        return rng.random(n) * 100
    if column.name.startswith("is_genre_"):
        return (rng.random(n) < 0.2).astype("int32")
    return rng.integers(0, 12, n)


def published_set(
    data_dir: Path,
    movies: int = 1200,
    *,
    version: str = PUBLISH_VERSION,
    kind: str = "folder",
    labelled_share: float = 0.6,
    drop: str | None = None,
    add: str | None = None,
    null_label: bool = False,
) -> Path:
    """<data_dir>/publish/<version>/ with the ML mart and its manifest; `latest` -> it."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    frame = pd.DataFrame({c.name: _values(c, movies, rng) for c in CONTRACT.columns})
    frame["release_year"] = frame["release_date"].dt.year
    frame["release_month"] = frame["release_date"].dt.month
    budget = frame["budget_usd"].astype("float64").fillna(1e6).to_numpy()
    signal = 0.9 * np.log(budget) + 1.5 * frame["is_genre_action"] + rng.normal(0, 1.0, movies)
    revenue = np.exp(signal).round().astype("int64")
    known = rng.random(movies) < labelled_share
    frame["label_revenue_usd"] = pd.array(np.where(known & ~null_label, revenue, 0), dtype="Int64")
    frame.loc[~known | null_label, "label_revenue_usd"] = pd.NA
    if drop:
        frame = frame.drop(columns=[drop])
    if add:
        frame[add] = 1.0
    root = data_dir / "publish"
    folder = root / version
    folder.mkdir(parents=True)
    path = folder / "mart_ml__movie_features.parquet"
    with duckdb.connect() as con:
        con.register("frame", frame)
        con.execute(f"copy (select * from frame) to '{path}' (format parquet)")
        described = con.execute(f"describe select * from read_parquet('{path}')").fetchall()
    columns = {row[0]: row[1] for row in described}
    manifest = {
        "version": version,
        "built_at": "2026-01-01T00:00:00Z",
        "source": {"kind": kind, "label": "test", "dataset": "a test set", "data_dir": data_dir.name},
        "relations": {
            "mart_ml__movie_features": {
                "file": path.name,
                "rows": movies,
                "columns": columns,
            }
        },
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    latest = root / "latest"
    latest.unlink(missing_ok=True)
    latest.symlink_to(version)
    return folder
