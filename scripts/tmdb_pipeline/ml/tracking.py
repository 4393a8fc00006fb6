"""Each training run in MLflow: parameters, metrics, data version, feature list, the model artifact, and
the model registry, on a local SQLite store in the data folder (`<data dir>/mlflow/mlflow.db`).

`mlflow server --backend-store-uri sqlite:///<data dir>/mlflow/mlflow.db --host 127.0.0.1` shows the runs
(docs/ml.md). Readers of the published set need none of this: the model card carries the same facts.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.ml.publishing import TRUSTED_TYPES

log = logging.getLogger(__name__)

EXPERIMENT = "tmdb-box-office"
REGISTERED_MODEL = "tmdb-box-office-gbm"


class TrackingError(UserError):
    """The run could not be recorded in MLflow; nothing was published."""


@dataclass(frozen=True)
class TrackedRun:
    run_id: str
    experiment_id: str
    registered_version: str | None
    tracking_uri: str


def tracking_uri(mlflow_dir: Path) -> str:
    return f"sqlite:///{mlflow_dir / 'mlflow.db'}"


def record(
    mlflow_dir: Path,
    *,
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
    card: dict[str, Any],
    model: Any,
    input_example: Any,
    register: bool,
) -> TrackedRun:
    """One MLflow run; the model is registered (a new version of REGISTERED_MODEL) when it is published."""
    # offline and quiet: no usage telemetry sent from a pipeline run
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import mlflow
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError  # the SQLite store's own errors (a full disk, say)

    # MLflow logs a failed write to its store with the whole traceback, then raises it: said once, below
    store_log = logging.getLogger("mlflow.store.db.utils")
    level = store_log.level
    store_log.setLevel(logging.CRITICAL)
    try:
        return _record(mlflow, mlflow_dir, params, metrics, tags, card, model, input_example, register)
    except (MlflowException, SQLAlchemyError, OSError) as error:
        raise TrackingError(
            f"could not record the training run in MLflow ({mlflow_dir}): {_root_cause(error)}. Nothing was"
            " published; the previous model stands. Free space or make the folder writable if that is the"
            " cause; if the store is damaged, move it aside; then run `tmdb ml` again."
        ) from None
    finally:
        store_log.setLevel(level)


def _root_cause(error: BaseException) -> str:
    """The first line of the innermost error (SQLite's, rather than SQLAlchemy's statement and parameters)."""
    while error.__cause__ is not None:
        error = error.__cause__
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _record(
    mlflow: Any,
    mlflow_dir: Path,
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
    card: dict[str, Any],
    model: Any,
    input_example: Any,
    register: bool,
) -> TrackedRun:

    mlflow_dir.mkdir(parents=True, exist_ok=True)
    uri = tracking_uri(mlflow_dir)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else mlflow.create_experiment(EXPERIMENT, artifact_location=(mlflow_dir / "artifacts").as_uri())
    )
    with mlflow.start_run(experiment_id=experiment_id, run_name=tags.get("data_version")) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.set_tags(tags)
        mlflow.log_dict(card, "model_card.json")
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=REGISTERED_MODEL if register else None,
            skops_trusted_types=TRUSTED_TYPES,
            input_example=input_example,
            # named, so MLflow does not infer them (it would reload the model and scan the environment)
            pip_requirements=[f"{name}=={metadata.version(name)}" for name in ("scikit-learn", "skops")],
        )
    version = getattr(info, "registered_model_version", None)
    return TrackedRun(run.info.run_id, experiment_id, None if version is None else str(version), uri)
