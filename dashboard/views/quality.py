"""Data quality: files seen = staged + quarantined + unchanged per batch, quarantine reasons, the
reconciliation per layer and the load history."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from ui import chart, number, page_data

HISTORY = "mart_audit__load_history"
QUARANTINE = "mart_audit__quarantined_files"
RECONCILIATION = "mart_audit__load_reconciliation"
NEEDS = {
    HISTORY: ["batch_id", "entity", "staged_at", "files_seen", "files_staged", "files_quarantined",
              "raw_rows", "new_titles", "updated_titles"],
    QUARANTINE: ["batch_id", "entity", "quarantine_reason"],
    RECONCILIATION: ["entity", "files_staged", "files_quarantined", "raw_rows", "distinct_raw_ids",
                     "duplicates_removed", "staging_rows", "core_titles", "is_reconciled"],
}  # fmt: skip
LAYERS = {
    "files_staged": "1 files staged",
    "raw_rows": "2 raw rows",
    "staging_rows": "3 staging rows",
    "core_titles": "4 core titles",
}

published = page_data("Data quality", NEEDS)
# files unchanged since an earlier batch are in no manifest: the staging runs' own counts give them
batches = pd.DataFrame(
    [
        {"batch_id": b["batch_id"], "entity": entity, **counts}
        for b in published.manifest.get("batches", [])
        for entity, counts in b.get("entities", {}).items()
    ],
    columns=["batch_id", "entity", "seen", "staged", "quarantined", "unchanged"],
)
reconciliation = published.query(f"select * from {{{RECONCILIATION}}} order by entity")
reasons = published.query(
    f"select quarantine_reason as reason, entity, count(*) as files from {{{QUARANTINE}}}"
    " group by all order by files desc, reason"
)

cols = st.columns(4)
cols[0].metric("Batches", number(batches["batch_id"].nunique()))
cols[1].metric("Files staged", number(reconciliation["files_staged"].sum()))
cols[2].metric("Files quarantined", number(reconciliation["files_quarantined"].sum()))
reconciled = bool(reconciliation["is_reconciled"].all())
cols[3].metric("Counts reconciled", "yes" if reconciled else "NO")

st.subheader("Files per batch: seen = staged + quarantined + unchanged")
if batches.empty:
    st.info("The published manifest lists no staging batch.")
else:
    long = batches.melt(
        id_vars=["batch_id", "entity", "seen"], value_vars=["staged", "quarantined", "unchanged"],
        var_name="outcome", value_name="files",
    )  # fmt: skip
    long["batch"] = long["batch_id"] + " " + long["entity"]
    chart(
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("batch:N", title="Batch and entity", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("files:Q", title="Files"),
            color=alt.Color(
                "outcome:N",
                title="Outcome",
                sort=["staged", "quarantined", "unchanged"],
                scale=alt.Scale(
                    domain=["staged", "quarantined", "unchanged"], range=["#2e7d32", "#c62828", "#9e9e9e"]
                ),
            ),
            tooltip=[
                "batch_id:N",
                "entity:N",
                "outcome:N",
                alt.Tooltip("files:Q", format=","),
                alt.Tooltip("seen:Q", title="seen", format=","),
            ],
        )
        .properties(height=300),
        key="quality_batches",
    )

left, right = st.columns(2)
with left:
    st.subheader("Quarantine reasons")
    if reasons.empty:
        st.success("No file has been quarantined.", icon=":material/check_circle:")
    else:
        chart(
            alt.Chart(reasons)
            .mark_bar(color="#c62828")
            .encode(
                x=alt.X("files:Q", title="Files"),
                y=alt.Y("reason:N", title=None, sort="-x"),
                color=alt.Color("entity:N", title="Entity"),
                tooltip=["reason:N", "entity:N", alt.Tooltip("files:Q", format=",")],
            )
            .properties(height=300),
            key="quality_reasons",
        )
with right:
    st.subheader("Reconciliation per layer")
    layers = reconciliation.melt(
        id_vars=["entity"], value_vars=list(LAYERS), var_name="layer", value_name="rows"
    )
    layers["layer"] = layers["layer"].map(LAYERS)
    chart(
        alt.Chart(layers)
        .mark_bar()
        .encode(
            x=alt.X("layer:N", title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("rows:Q", title="Rows"),
            color=alt.Color("entity:N", title="Entity"),
            xOffset="entity:N",
            tooltip=["entity:N", "layer:N", alt.Tooltip("rows:Q", format=",")],
        )
        .properties(height=300),
        key="quality_layers",
    )
    st.caption(
        "Every staged file is a raw row; raw rows = staging rows + duplicates removed; every staging row is a"
        " core title. " + ("All counts agree." if reconciled else "**The counts disagree**: see the table.")
    )
st.dataframe(reconciliation, hide_index=True, key="quality_reconciliation")

st.subheader("Load history")
history = published.query(
    "select batch_id, entity, staged_at, files_seen, files_staged, files_quarantined, raw_rows, new_titles,"
    f" updated_titles from {{{HISTORY}}} order by batch_id, entity"
)
if not batches.empty:
    history = history.merge(
        batches[["batch_id", "entity", "unchanged"]], on=["batch_id", "entity"], how="left"
    )
st.dataframe(
    history,
    hide_index=True,
    column_config={
        "batch_id": "Batch",
        "entity": "Entity",
        "staged_at": st.column_config.DatetimeColumn("Staged at (UTC)", format="YYYY-MM-DD HH:mm"),
        "files_seen": st.column_config.NumberColumn("Files new or changed", format="localized"),
        "files_staged": st.column_config.NumberColumn("Staged", format="localized"),
        "files_quarantined": st.column_config.NumberColumn("Quarantined", format="localized"),
        "raw_rows": st.column_config.NumberColumn("Raw rows", format="localized"),
        "new_titles": st.column_config.NumberColumn("New titles", format="localized"),
        "updated_titles": st.column_config.NumberColumn("Updated titles", format="localized"),
        "unchanged": st.column_config.NumberColumn("Files unchanged", format="localized"),
    },
    key="quality_history",
)
