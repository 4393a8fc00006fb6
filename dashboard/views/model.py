"""Model: the box-office model published beside the marts (`tmdb ml`, docs/ml.md): its figures against the
two baselines with their intervals, predicted against actual, residuals by release year, feature
importance and the model card. Reads only the model card JSON and the predictions Parquet."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import streamlit as st
from data import NoModel, model_dir, open_model
from ui import chart, number

NAMES = {
    "mean_baseline": "Mean baseline",
    "budget_linear": "Budget-only linear (logs)",
    "gradient_boosting": "Gradient boosting",
}

st.title("Model")
try:
    model = open_model()
except NoModel:
    st.info(
        f"No model has been published yet in `{model_dir()}`.\n\n"
        "**`make run`** trains the box-office model after publishing the marts, and publishes it when it"
        " beats the mean baseline on the latest releases; with too few movies of known revenue it trains"
        " none.",
        icon=":material/info:",
    )
    st.stop()

card = model.card
if card.get("note"):
    st.warning(card["note"], icon=":material/warning:")
rows, split, data = card["rows"], card["split"], card["data"]
models = card["metrics"]["models"]
gbm, mean = models["gradient_boosting"], models["mean_baseline"]
cols = st.columns(4)
cols[0].metric("RMSLE, gradient boosting", f"{gbm['rmsle']:.3f}")
cols[1].metric("RMSLE, mean baseline", f"{mean['rmsle']:.3f}")
cols[2].metric("Train movies", number(rows["train"]))
cols[3].metric("Test movies", number(rows["test"]))
clears = "clears" if card["metrics"]["clears_baseline"] else "does not clear"
st.caption(
    f"Task: predict log(1 + revenue) of a movie from what is known before its release; RMSLE on the test"
    f" split, the latest releases ({split['test_first']} – {split['test_last']}), trained on releases"
    f" {split['train_first']} – {split['train_last']}. The gradient-boosted model's 95 % bootstrap interval"
    f" {clears} the mean baseline's. Data: published version {data['version']} ({data['dataset']})."
)

table = pd.DataFrame(
    [
        {
            "model": NAMES.get(name, name),
            "rmsle": figures["rmsle"],
            "low": figures["rmsle_ci95"][0],
            "high": figures["rmsle_ci95"][1],
            "mae_log": figures["mae_log"],
            "r2": figures["r2"],
        }
        for name, figures in models.items()
    ]
)
left, right = st.columns(2)
with left:
    st.subheader("RMSLE against the baselines")
    base = alt.Chart(table).encode(y=alt.Y("model:N", title=None, sort=list(NAMES.values())))
    chart(
        base.mark_rule(strokeWidth=2).encode(
            x=alt.X("low:Q", title="RMSLE on the test split, 95 % bootstrap interval (lower is better)"),
            x2="high:Q",
        )
        + base.mark_point(filled=True, size=90).encode(
            x="rmsle:Q",
            tooltip=[
                alt.Tooltip("model:N", title="Model"),
                alt.Tooltip("rmsle:Q", title="RMSLE", format=".3f"),
                alt.Tooltip("low:Q", title="95 % low", format=".3f"),
                alt.Tooltip("high:Q", title="95 % high", format=".3f"),
                alt.Tooltip("mae_log:Q", title="MAE (log)", format=".3f"),
                alt.Tooltip("r2:Q", title="R²", format=".3f"),
            ],
        ),
        key="model_metrics",
    )
    st.dataframe(
        table.rename(columns={"low": "95 % low", "high": "95 % high", "mae_log": "MAE (log)", "r2": "R²"}),
        hide_index=True,
    )

test = model.predictions()
with right:
    st.subheader("Predicted against actual (test split)")
    top = float(max(test["actual_log_revenue"].max(), test["predicted_log_revenue"].max()))
    diagonal = pd.DataFrame({"x": [0.0, top], "y": [0.0, top]})
    chart(
        alt.Chart(diagonal).mark_line(color="gray", strokeDash=[4, 4]).encode(x="x:Q", y="y:Q")
        + alt.Chart(test)
        .mark_circle(size=18, opacity=0.5)
        .encode(
            x=alt.X("actual_log_revenue:Q", title="Actual log(1 + revenue USD)"),
            y=alt.Y("predicted_log_revenue:Q", title="Predicted log(1 + revenue USD)"),
            tooltip=[
                alt.Tooltip("tmdb_id:Q", title="TMDB id"),
                alt.Tooltip("release_date:T", title="Released"),
                alt.Tooltip("actual_log_revenue:Q", title="Actual", format=".2f"),
                alt.Tooltip("predicted_log_revenue:Q", title="Predicted", format=".2f"),
            ],
        ),
        key="model_scatter",
    )

left, right = st.columns(2)
with left:
    st.subheader("Residuals by release year (test split)")
    residuals = test.assign(residual=test["predicted_log_revenue"] - test["actual_log_revenue"])
    by_year = (
        residuals.groupby("release_year", as_index=False)
        .agg(mean_residual=("residual", "mean"), movies=("residual", "size"))
        .astype({"release_year": "int64"})
    )
    chart(
        alt.Chart(by_year)
        .mark_bar()
        .encode(
            x=alt.X("release_year:O", title="Release year"),
            y=alt.Y("mean_residual:Q", title="Mean of predicted − actual (log)"),
            tooltip=[
                alt.Tooltip("release_year:O", title="Year"),
                alt.Tooltip("mean_residual:Q", title="Mean residual", format=".2f"),
                alt.Tooltip("movies:Q", title="Movies", format=","),
            ],
        ),
        key="model_residuals",
    )
with right:
    st.subheader("Permutation importance (test split)")
    importance = pd.DataFrame(card["metrics"]["importance"]).head(20)
    chart(
        alt.Chart(importance)
        .mark_bar()
        .encode(
            x=alt.X("rmsle_increase:Q", title="RMSLE lost when the feature is shuffled"),
            y=alt.Y("feature:N", title=None, sort="-x", axis=alt.Axis(labelOverlap=False)),
            tooltip=[
                alt.Tooltip("feature:N", title="Feature"),
                alt.Tooltip("rmsle_increase:Q", title="RMSLE increase", format=".3f"),
                alt.Tooltip("std:Q", title="Std over repeats", format=".3f"),
            ],
        ),
        key="model_importance",
    )

st.subheader("Model card")
facts = st.columns(4)
facts[0].metric("Data version", data["version"])
facts[1].metric("Labelled movies", number(rows["labelled"]))
facts[2].metric("Movies predicted (revenue unknown)", number(rows["unlabelled_predicted"]))
facts[3].metric("Model version", card["version"])
st.caption(
    f"Split by release date: train {split['train_first']} – {split['train_last']}, test {split['test_first']}"
    f" – {split['test_last']}. Features ({len(card['features'])}, all known before release):"
    f" {', '.join(card['features'])}. Published in `{model.folder}`."
)
with st.expander("The whole model card (JSON)"):
    st.code(json.dumps(card, indent=2), language="json")
