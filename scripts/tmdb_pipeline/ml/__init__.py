"""`tmdb ml`: the box-office model, trained from the published feature mart (docs/ml.md).

contract (each column's role, from the mart's YAML) -> dataset (the published Parquet set, split by release
date) -> training (mean baseline, budget-only linear, gradient boosting) -> evaluation (RMSLE with bootstrap
intervals, MAE, R², permutation importance) -> tracking (MLflow on SQLite, model registry) -> publishing
(model card, predictions and model file beside the marts, published only when the model beats the mean).

scikit-learn, MLflow and skops are the `ml` extra (`make venv-ml`): they are imported only here, when a model
is trained, so `tmdb` without them still runs every other command.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.workspace import Workspace

log = logging.getLogger(__name__)

EXTRA_MODULES = ("sklearn", "mlflow", "skops")
TRAINING_BEGINS = "Training the box-office model on the published set"


class MissingExtra(UserError):
    """The ml extra is not installed."""


@dataclass
class MlOutcome:
    """What a training run did: its card (always, when a model was trained), and whether it was published."""

    card: dict[str, Any] = field(default_factory=dict)
    published: Path | None = None  # <data dir>/ml/latest, when this run's model was published
    not_published_because: str = ""
    no_model_because: str = ""  # too few rows: no model at all (not an error)
    unchanged: bool = False  # the published model was trained on this very published version: kept

    def line(self) -> str:
        """One line for the run's summary: model, RMSLE against the mean baseline, rows."""
        if self.no_model_because:
            return self.no_model_because
        from tmdb_pipeline.ml.training import GBM, MEAN

        models = self.card["metrics"]["models"]
        gbm, mean = models[GBM], models[MEAN]
        rows = self.card["rows"]
        verdict = (
            f"unchanged: {self.published} was trained on this published version"
            if self.unchanged
            else f"published {self.published}"
            if self.published
            else f"NOT published ({self.not_published_because}); the previous model stands"
        )
        synthetic = " [synthetic sample: describes no real film]" if self.card["data"]["synthetic"] else ""
        return (
            f"gradient boosting RMSLE {gbm['rmsle']:.3f} {_interval(gbm)} vs mean baseline"
            f" {mean['rmsle']:.3f} {_interval(mean)};"
            f" {rows['train']:,} train / {rows['test']:,} test rows; {verdict}{synthetic}"
        )


def _interval(figures: dict[str, Any]) -> str:
    low, high = figures["rmsle_ci95"]
    return f"[{low:.3f}, {high:.3f}]"


def require_extra() -> None:
    missing = [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtra(
            f"training the model needs the ml extra ({', '.join(missing)} not installed): run `make venv-ml`"
            " (or: .venv/bin/pip install --require-hashes -r requirements/ml.txt), then `tmdb ml`."
        )


def train(
    workspace: Workspace, publish_dir: Path | None = None, *, track: bool = True, retrain: bool = True
) -> MlOutcome:
    """Train, evaluate, track and (when it beats the mean baseline) publish the box-office model.
    retrain=False (a run that published nothing new) keeps a model trained on this published version."""
    require_extra()
    from threadpoolctl import threadpool_limits

    # One thread: OpenMP's worker threads spin while they wait, and on a machine busy with other work
    # (2 shared cores) training ran a hundred times slower with them than without.
    with threadpool_limits(limits=1):
        return _train(workspace, publish_dir, track=track, retrain=retrain)


def _train(workspace: Workspace, publish_dir: Path | None, *, track: bool, retrain: bool) -> MlOutcome:
    from tmdb_pipeline.ml import dataset, evaluation, publishing, training
    from tmdb_pipeline.ml.contract import check_features, load_contract

    contract = load_contract()
    published = dataset.find(publish_dir or workspace.publish_dir, contract)
    data_version = published.data.version
    previous = publishing.latest_card(workspace.ml_dir)
    if previous is not None and str(previous.get("data", {}).get("version", "")) > data_version:
        raise dataset.DatasetError(
            f"the published set {data_version} is older than the one the published model was trained on"
            f" ({previous['data']['version']}); training on it would replace a newer model with an older"
            " one. Publish the current warehouse (`make run`, or `tmdb publish`) and train again."
        )
    if not retrain and previous is not None and previous.get("data", {}).get("version") == data_version:
        return MlOutcome(card=previous, published=workspace.ml_dir / publishing.LATEST, unchanged=True)
    rejected = publishing.rejected_card(workspace.ml_dir)
    if not retrain and rejected is not None and rejected["data"]["version"] == data_version:
        # Training is deterministic: the same published set would give the same losing model again.
        return MlOutcome(
            card=rejected, not_published_because=f"{rejected['rejected_because']}; not trained again"
        )
    data = dataset.read(published, contract)
    features = check_features(contract.features, contract)
    try:
        split = dataset.time_split(data.labelled, contract.time)
    except dataset.TooFewRows as few:  # said once, by the outcome's line
        return MlOutcome(no_model_because=str(few))
    # said as training begins: a run is silent otherwise for as long as training takes (seconds at full
    # size), and the fault campaign reads the step's start from this line
    rows = f"{len(split.train):,} train / {len(split.test):,} test movies"
    log.info("%s %s (%s).", TRAINING_BEGINS, data.data.version, rows)
    trained = training.fit(split.train, contract.label, features, contract.categorical)
    metrics = evaluation.evaluate(trained, split.test, contract.label)
    version = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    card = model_card(version, data, split, contract, features, metrics)
    reason = publishing.publish_rule(metrics, training.MEAN, training.GBM)
    model = trained.models[training.GBM]
    x_test = training.design(split.test, features, contract.categorical)
    if track:
        tracked = _track(workspace, card, model, x_test, register=reason is None)
        card["mlflow"] = {
            "run_id": tracked.run_id,
            "experiment": tracked.experiment_id,
            "registered_model": (
                f"{_registered()}/{tracked.registered_version}" if tracked.registered_version else None
            ),
        }
    outcome = MlOutcome(card=card)
    if reason is not None:
        outcome.not_published_because = reason
        log.warning("The model was not published: %s. The previous published model stands.", reason)
        publishing.keep_rejected_card(workspace.ml_dir, {**card, "rejected_because": reason})
        return outcome
    predictions = _predictions(trained, split, data, contract)
    published = publishing.publish(
        workspace.ml_dir, version, card, predictions, model, x_test, model.predict(x_test)
    )
    outcome.published = published.latest
    return outcome


def _registered() -> str:
    from tmdb_pipeline.ml.tracking import REGISTERED_MODEL

    return REGISTERED_MODEL


def _track(workspace: Workspace, card: dict[str, Any], model: Any, x_test: Any, register: bool) -> Any:
    from tmdb_pipeline.ml import tracking
    from tmdb_pipeline.ml.training import GBM_PARAMS, SEED, TOP_CATEGORIES

    metrics = {
        f"{name}.{key}": float(value)
        for name, figures in card["metrics"]["models"].items()
        for key, value in figures.items()
        if isinstance(value, int | float)
    }
    for name, figures in card["metrics"]["models"].items():
        metrics[f"{name}.rmsle_ci95_low"], metrics[f"{name}.rmsle_ci95_high"] = figures["rmsle_ci95"]
    params = {**GBM_PARAMS, "seed": SEED, "top_categories": TOP_CATEGORIES, **card["split"]}
    params["features"] = len(card["features"])
    tags = {
        "data_version": card["data"]["version"],
        "data_source": card["data"]["source_kind"],
        "synthetic": str(card["data"]["synthetic"]).lower(),
        "features": ",".join(card["features"]),
    }
    return tracking.record(
        workspace.mlflow_dir,
        params=params,
        metrics=metrics,
        tags=tags,
        card=card,
        model=model,
        input_example=x_test.head(5),
        register=register,
    )


def model_card(
    version: str, data: Any, split: Any, contract: Any, features: list[str], metrics: dict[str, Any]
) -> dict[str, Any]:
    from tmdb_pipeline.ml import dataset, evaluation, training

    time = contract.time
    card: dict[str, Any] = {
        "model": "box-office revenue: log1p(revenue_usd) of a movie from what is known before its release",
        "version": version,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "data": data.data.as_dict(),
        "rows": {
            "movies": len(data.frame),
            "labelled": len(data.labelled),
            "labelled_without_release_date": data.undated,
            "train": len(split.train),
            "test": len(split.test),
            "unlabelled_predicted": len(data.unlabelled),
        },
        "split": {"method": "time", "test_share": dataset.TEST_SHARE, **split.dates(time)},
        "label": {"column": contract.label, "transform": "log1p", "metric": "RMSLE"},
        "features": features,
        "categorical": contract.categorical,
        "roles": contract.roles,
        "params": {
            "gradient_boosting": training.GBM_PARAMS,
            "seed": training.SEED,
            "top_categories": training.TOP_CATEGORIES,
            "bootstrap": evaluation.BOOTSTRAP,
        },
        "metrics": metrics,
        "versions": {name: _version(name) for name in ("scikit-learn", "mlflow", "skops")},
    }
    if data.data.synthetic:
        card["note"] = (
            "Trained on the built-in synthetic sample: its films, budgets and revenues are generated, so this"
            " model describes no real film."
        )
    return card


def _predictions(trained: Any, split: Any, data: Any, contract: Any) -> Any:
    import numpy as np
    import pandas as pd

    from tmdb_pipeline.ml import training

    def frame(rows: pd.DataFrame, name: str, actual: bool) -> pd.DataFrame:
        predicted = training.predict(trained, training.GBM, rows)
        return pd.DataFrame(
            {
                "title_key": rows["title_key"].to_numpy(),
                "tmdb_id": rows["tmdb_id"].to_numpy(),
                "release_date": rows[contract.time].to_numpy(),
                "release_year": rows["release_year"].to_numpy(),
                "split": name,
                "actual_log_revenue": training.log_label(rows, contract.label) if actual else np.nan,
                "predicted_log_revenue": predicted,
                "predicted_revenue_usd": np.expm1(predicted),
                "budget_baseline_log_revenue": training.predict(trained, training.BUDGET, rows),
            }
        )

    return pd.concat(
        [frame(split.test, "test", True), frame(data.unlabelled, "unlabelled", False)], ignore_index=True
    )


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
