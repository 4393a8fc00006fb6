"""The three models of the report, all predicting log1p(revenue): the mean of the training split, a linear
model on log1p(budget) alone, and gradient-boosted trees on every pre-release feature of the contract.

Everything is seeded (SEED): the same published version gives the same models and the same figures.
Categorical features keep their most frequent values of the training rows (TOP_CATEGORIES), every rarer
value becomes one "infrequent" category: frequencies read from the test split would leak it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SEED = 20240607
TOP_CATEGORIES = 30
GBM_PARAMS: dict[str, Any] = {
    "learning_rate": 0.05,
    "max_iter": 300,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
    # early stopping would hold out a random tenth of the (time-ordered) training rows: off, fixed rounds
    "early_stopping": False,
}
MEAN, BUDGET, GBM = "mean_baseline", "budget_linear", "gradient_boosting"
MODELS = (MEAN, BUDGET, GBM)
BUDGET_COLUMN = "budget_usd"


@dataclass
class Trained:
    features: list[str]
    categorical: list[str]
    models: dict[str, Any] = field(default_factory=dict)  # name -> fitted scikit-learn estimator


def design(frame: pd.DataFrame, features: list[str], categorical: list[str]) -> pd.DataFrame:
    """The model's input: features only, numbers as floats (NULL -> NaN), categories as text."""
    import numpy as np
    import pandas as pd

    columns = {}
    for name in features:
        values = frame[name]
        if name in categorical:
            columns[name] = values.astype("object").where(values.notna(), np.nan).map(_category)
        else:
            columns[name] = pd.to_numeric(values.astype("object").where(values.notna(), np.nan)).astype(
                "float64"
            )
    return pd.DataFrame(columns, index=frame.index)


def _category(value: Any) -> Any:
    """A category as text (an id read back as 12.0 is "12"); missing stays NaN, its own category."""
    if isinstance(value, float):
        return value if value != value else str(int(value)) if value.is_integer() else str(value)
    return str(value)


def log_label(frame: pd.DataFrame, label: str) -> np.ndarray:
    import numpy as np

    return np.log1p(frame[label].astype("float64").to_numpy())


def fit(train: pd.DataFrame, label: str, features: list[str], categorical: list[str]) -> Trained:
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.dummy import DummyRegressor
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    x = design(train, features, categorical)
    y = log_label(train, label)
    numeric = [name for name in features if name not in categorical]
    encode = ColumnTransformer(
        [
            (
                "categories",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                    max_categories=TOP_CATEGORIES + 1,  # the most frequent ones + one for the rest
                ),
                categorical,
            ),
            ("numbers", "passthrough", numeric),
        ],
        verbose_feature_names_out=False,
    )
    gbm = Pipeline(
        [
            ("encode", encode),
            (
                "trees",
                HistGradientBoostingRegressor(
                    categorical_features=list(range(len(categorical))), random_state=SEED, **GBM_PARAMS
                ),
            ),
        ]
    )
    # a budget of NULL (not entered) is imputed with the training median and flagged by an indicator
    budget = Pipeline(
        [
            ("select", ColumnTransformer([("budget", "passthrough", [BUDGET_COLUMN])])),
            ("log", FunctionTransformer(np.log1p)),
            ("impute", SimpleImputer(strategy="median", add_indicator=True)),
            ("linear", LinearRegression()),
        ]
    )
    trained = Trained(features, categorical)
    trained.models[MEAN] = DummyRegressor(strategy="mean").fit(x, y)
    trained.models[BUDGET] = budget.fit(x, y)
    trained.models[GBM] = gbm.fit(x, y)
    return trained


def predict(trained: Trained, name: str, frame: pd.DataFrame) -> np.ndarray:
    return trained.models[name].predict(design(frame, trained.features, trained.categorical))
