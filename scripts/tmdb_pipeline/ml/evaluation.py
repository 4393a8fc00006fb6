"""The figures of the report, all on the test split (the latest releases), on the log scale.

RMSLE (root mean squared error of log1p(revenue), the Kaggle competition's metric) with a bootstrap 95 %
interval, MAE of the logs, R², a paired bootstrap interval of each model's RMSLE minus the mean baseline's,
and the gradient-boosted model's permutation importance. Every random draw is seeded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tmdb_pipeline.ml.training import GBM, MEAN, MODELS, SEED, Trained, design, log_label, predict

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

BOOTSTRAP = 1000
IMPORTANCE_REPEATS = 5
# Rows of the test split each repeat of the permutation importance scores (a seeded draw, all of them when the
# split is smaller): at full size, scoring every test row 205 times was most of the training step's time.
IMPORTANCE_ROWS = 1000


def _rmse(errors: np.ndarray) -> float:
    import numpy as np

    return float(np.sqrt(np.mean(errors**2)))


def evaluate(trained: Trained, test: pd.DataFrame, label: str) -> dict[str, Any]:
    """{models: {name: metrics}, importance: [...], gbm_minus_mean: interval, clears_baseline: bool}."""
    import numpy as np

    y = log_label(test, label)
    rng = np.random.default_rng(SEED)
    draws = rng.integers(0, len(y), size=(BOOTSTRAP, len(y)))
    errors = {name: predict(trained, name, test) - y for name in MODELS}
    boot = {name: np.sqrt(np.mean(errors[name][draws] ** 2, axis=1)) for name in MODELS}
    total = float(np.sum((y - y.mean()) ** 2))
    models = {}
    for name in MODELS:
        low, high = np.percentile(boot[name], [2.5, 97.5])
        difference = boot[name] - boot[MEAN]
        models[name] = {
            "rmsle": round(_rmse(errors[name]), 4),
            "rmsle_ci95": [round(float(low), 4), round(float(high), 4)],
            "rmsle_minus_mean_ci95": [round(float(v), 4) for v in np.percentile(difference, [2.5, 97.5])],
            "mae_log": round(float(np.mean(np.abs(errors[name]))), 4),
            "r2": round(1 - float(np.sum(errors[name] ** 2)) / total, 4) if total > 0 else None,
        }
    gbm, mean = models[GBM], models[MEAN]
    return {
        "models": models,
        # intervals that do not overlap, and the paired difference's interval entirely below 0
        "clears_baseline": gbm["rmsle_ci95"][1] < mean["rmsle_ci95"][0],
        "beats_baseline_paired": gbm["rmsle_minus_mean_ci95"][1] < 0,
        "importance": importance(trained, test, y),
    }


def importance(trained: Trained, test: pd.DataFrame, y: np.ndarray) -> list[dict[str, Any]]:
    """Permutation importance of the gradient-boosted model on the test split: RMSLE lost per feature.

    The features are encoded once and the trees score the permuted matrix: encoding is row by row, so
    permuting an encoded column is permuting the feature, and every column is shuffled by the same seeded
    draw either way (scikit-learn's permutation_importance), without encoding the test split 205 times."""
    from sklearn.inspection import permutation_importance

    gbm = trained.models[GBM]
    encode, trees = gbm.named_steps["encode"], gbm.named_steps["trees"]
    encoded = encode.transform(design(test, trained.features, trained.categorical))
    result = permutation_importance(
        trees,
        encoded,
        y,
        scoring="neg_root_mean_squared_error",
        n_repeats=IMPORTANCE_REPEATS,
        max_samples=min(IMPORTANCE_ROWS, len(y)),
        random_state=SEED,
        n_jobs=1,
    )
    names = encode.get_feature_names_out()
    rows = [
        {"feature": str(name), "rmsle_increase": round(float(m), 4), "std": round(float(s), 4)}
        for name, m, s in zip(names, result.importances_mean, result.importances_std, strict=True)
    ]
    return sorted(rows, key=lambda r: (-r["rmsle_increase"], r["feature"]))
