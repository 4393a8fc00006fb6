"""Write-audit-publish of the model, beside the published marts, under the same rule.

Layout, under `<data dir>/ml/`:

    <version>/                 one folder per published model (version = UTC time, sortable)
        model_card.json        what a reader needs without MLflow: data version, rows, split dates,
                               features and roles, parameters, metrics with intervals, importance
        predictions.parquet    the test split (actual and predicted) and every movie without a known revenue
        model.skops            the gradient-boosted pipeline (skops: loading it runs no pickled code)
    latest -> <version>        swapped atomically

A model is published only when its evaluation ran and it beats the mean baseline on the test split; the
audit reloads the model file just written and checks it predicts what the trained model predicted. Any
failure leaves `latest` (the previous model and predictions) as it was.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.warehouse.publish import (
    LATEST,
    TMP_PREFIX,
    _fsync,
    _prune,
    _remove_stale_tmp,
)

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

CARD, PREDICTIONS, MODEL_FILE = "model_card.json", "predictions.parquet", "model.skops"
REJECTED_CARD = "rejected_model_card.json"  # the last model that lost to the baseline: ml/, beside latest
# What skops may rebuild when it loads a model file beyond its own defaults: the types of the pipeline
# training.fit builds, nothing else (an unexpected type in a model file is refused).
TRUSTED_TYPES = [
    "functools.partial",  # of check_array only, the next name: the encoder's input validation
    "sklearn.utils.validation.check_array",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]


class ModelPublishError(UserError):
    """The model was not published; the previous one stands. The message says why and what to do."""


@dataclass(frozen=True)
class Published:
    version: str
    folder: Path
    latest: Path


def latest_card(ml_dir: Path) -> dict[str, Any] | None:
    """The model card `latest` points at, or None when no model was published (or it cannot be read)."""
    try:
        return json.loads((ml_dir / LATEST / CARD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def rejected_card(ml_dir: Path) -> dict[str, Any] | None:
    """The card of the last model that lost to the baseline, or None (none, or it cannot be read)."""
    try:
        card = json.loads((ml_dir / REJECTED_CARD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) and "rejected_because" in card and "data" in card else None


def keep_rejected_card(ml_dir: Path, card: dict[str, Any]) -> None:
    """Keep the card of a model that lost, so that a run with nothing new to train on does not train it again
    (`tmdb ml` always does). Written whole or not at all."""
    ml_dir.mkdir(parents=True, exist_ok=True)
    tmp = ml_dir / f".{REJECTED_CARD}-{os.getpid()}"
    tmp.write_text(json.dumps(card, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, ml_dir / REJECTED_CARD)


def publish_rule(metrics: dict[str, Any], mean: str, gbm: str) -> str | None:
    """Why the model must not be published, or None when it may."""
    models = metrics.get("models", {})
    if gbm not in models or mean not in models:
        return "its evaluation did not run"
    if not models[gbm]["rmsle"] < models[mean]["rmsle"]:
        return (
            f"it does not beat the mean baseline on the test split (RMSLE {models[gbm]['rmsle']} against"
            f" {models[mean]['rmsle']})"
        )
    return None


def save_model(model: Any, path: Path) -> None:
    import skops.io

    skops.io.dump(model, path)


def load_model(path: Path) -> Any:
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
        refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
        if refused:
            raise ModelPublishError(
                f"the model file {path} holds types this project does not trust ({', '.join(refused)}); it"
                " was not written by `tmdb ml`. Train again (`tmdb ml`)."
            )
        return skops.io.load(path, trusted=untrusted)
    except ModelPublishError:
        raise
    except (
        OSError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        ImportError,
        zipfile.BadZipFile,
    ) as error:
        raise ModelPublishError(
            f"the model file {path} cannot be read ({type(error).__name__}: {error}). Train again"
            " (`tmdb ml`); the published model, if any, is unchanged."
        ) from None


def publish(
    ml_dir: Path,
    version: str,
    card: dict[str, Any],
    predictions: pd.DataFrame,
    model: Any,
    audit_rows: pd.DataFrame,
    expected: Any,
) -> Published:
    """Write the version into a temporary folder, audit it, then make it `latest` atomically."""
    import numpy as np

    tmp = ml_dir / f"{TMP_PREFIX}{os.getpid()}"
    try:
        ml_dir.mkdir(parents=True, exist_ok=True)
        _remove_stale_tmp(ml_dir)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        save_model(model, tmp / MODEL_FILE)
        reloaded = load_model(tmp / MODEL_FILE)
        if not np.allclose(reloaded.predict(audit_rows), expected, rtol=0, atol=1e-9):
            raise ModelPublishError(
                "the model file written does not predict what the trained model predicted; nothing was"
                " published. Train again (`tmdb ml`)."
            )
        predictions.to_parquet(tmp / PREDICTIONS, index=False, compression="zstd")
        (tmp / CARD).write_text(json.dumps(card, indent=2, default=str) + "\n", encoding="utf-8")
        for child in tmp.iterdir():
            _fsync(child, os.O_RDONLY)
        _fsync(tmp, os.O_RDONLY | os.O_DIRECTORY)
        folder = ml_dir / version
        os.rename(tmp, folder)
        link_tmp = ml_dir / f".{LATEST}-{os.getpid()}"
        link_tmp.unlink(missing_ok=True)
        link_tmp.symlink_to(version)
        os.replace(link_tmp, ml_dir / LATEST)
        _fsync(ml_dir, os.O_RDONLY | os.O_DIRECTORY)
    except ModelPublishError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelPublishError(
            f"could not publish the model into {ml_dir}: {error}. The previous model is unchanged; fix the"
            " cause (disk space, permissions) and run `tmdb ml` again."
        ) from None
    _prune(ml_dir, keep=version)
    return Published(version, folder, ml_dir / LATEST)
