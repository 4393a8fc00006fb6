"""Pipeline health: the recorded runs (tmdb_pipeline.monitoring), as published beside the marts: duration
by step and status over time, the last build's slowest models against their median, tests, source
freshness, quarantined files by reason, and the anomalies."""

from __future__ import annotations

import altair as alt
import streamlit as st
from ui import chart, number, page_data

STATUS_COLOURS = alt.Scale(domain=["success", "failed"], range=["#2e7d32", "#c62828"])
RUN_LABEL = "strftime(i.completed_at, '%m-%d %H:%M:%S')"

published = page_data("Pipeline health", {})
history = published.history()
if history is None:
    st.info(
        "No run has been recorded yet. Every `make run` (and the Airflow DAG's record_history task) records"
        " its run; run it once and this page shows the history.",
        icon=":material/info:",
    )
    st.stop()

runs = history.query(
    f"select invocation_id, {RUN_LABEL} as run, completed_at, origin, command, target, status, elapsed_s,"
    " tests_passed, tests_failed, tests_warned, tests_skipped, anomalies from {invocations} i"
    " order by completed_at"
)
last = runs.iloc[-1]
green = runs[runs["status"] == "success"]
cols = st.columns(4)
cols[0].metric("Runs recorded", number(len(runs)))
cols[1].metric(
    "Last run", str(last["status"]), help=f"{last['origin']}, {last['command']} on {last['target']}"
)
cols[2].metric(
    "Last green run", green["completed_at"].max().strftime("%Y-%m-%d %H:%M") if len(green) else "never"
)
cols[3].metric("Anomalies in the last run", number(last["anomalies"]))

st.subheader("Runs over time: duration by step")
steps = history.query(
    f"select {RUN_LABEL} as run, i.completed_at, s.step, s.duration_s, i.status from {{run_steps}} s"
    " join {invocations} i using (invocation_id) order by i.completed_at, s.step"
)
bars = (
    alt.Chart(steps)
    .mark_bar()
    .encode(
        x=alt.X("run:N", title="Run (UTC)", sort=None, axis=alt.Axis(labelAngle=-30)),
        y=alt.Y("duration_s:Q", title="Seconds", stack=True),
        color=alt.Color("step:N", title="Step"),
        tooltip=["run:N", "step:N", alt.Tooltip("duration_s:Q", format=",.2f"), "status:N"],
    )
)
status = (
    alt.Chart(runs)
    .mark_point(filled=True, size=90, shape="diamond")
    .encode(
        x=alt.X("run:N", sort=None),
        y=alt.value(6),
        color=alt.Color("status:N", title="Run", scale=STATUS_COLOURS),
        tooltip=["run:N", "status:N", "origin:N", alt.Tooltip("elapsed_s:Q", title="dbt s", format=",.1f")],
    )
)
chart(alt.layer(bars, status).resolve_scale(color="independent").properties(height=320), key="health_steps")

left, right = st.columns(2)
with left:
    st.subheader("Slowest models of the last build, against their median")
    slowest = history.query(
        "with last_build as (select invocation_id from {node_results} n join {invocations} i"
        " using (invocation_id) where n.resource_type = 'model' order by i.completed_at desc limit 1),"
        " medians as (select unique_id, median(execution_time_s) as median_s from {node_results}"
        " where resource_type = 'model' and status = 'success' group by unique_id)"
        " select n.name, n.execution_time_s as this_run_s, m.median_s from {node_results} n"
        " join last_build using (invocation_id) left join medians m using (unique_id)"
        " where n.resource_type = 'model' order by n.execution_time_s desc limit 12"
    )
    if slowest.empty:
        st.info("No recorded run built a model yet.")
    else:
        base = alt.Chart(slowest).encode(y=alt.Y("name:N", title=None, sort="-x"))
        chart(
            alt.layer(
                base.mark_bar(color="#1565c0").encode(
                    x=alt.X("this_run_s:Q", title="Seconds"),
                    tooltip=[
                        "name:N",
                        alt.Tooltip("this_run_s:Q", title="this run", format=".2f"),
                        alt.Tooltip("median_s:Q", title="median", format=".2f"),
                    ],
                ),
                base.mark_tick(color="#ff8f00", thickness=3, size=18).encode(x="median_s:Q"),
            ).properties(height=320),
            key="health_slowest",
        )
        st.caption("Bars: this build; orange ticks: each model's median over every recorded build.")
with right:
    st.subheader("Tests over time")
    tests = runs[runs["tests_passed"] + runs["tests_failed"] + runs["tests_warned"] > 0].melt(
        id_vars=["run"],
        value_vars=["tests_failed", "tests_warned", "tests_skipped"],
        var_name="outcome",
        value_name="tests",
    )
    if tests.empty:
        st.info("No recorded run ran tests yet.")
    else:
        tests["outcome"] = tests["outcome"].str.removeprefix("tests_")
        chart(
            alt.Chart(tests)
            .mark_line(point=True)
            .encode(
                x=alt.X("run:N", title="Run (UTC)", sort=None, axis=alt.Axis(labelAngle=-30)),
                y=alt.Y("tests:Q", title="Tests", axis=alt.Axis(format="d", tickMinStep=1)),
                color=alt.Color(
                    "outcome:N",
                    title="Outcome",
                    scale=alt.Scale(
                        domain=["failed", "warned", "skipped"], range=["#c62828", "#ff8f00", "#9e9e9e"]
                    ),
                ),
                tooltip=["run:N", "outcome:N", "tests:Q"],
            )
            .properties(height=320),
            key="health_tests",
        )

left, right = st.columns(2)
with left:
    st.subheader("Source freshness")
    freshness = history.query(
        f"select {RUN_LABEL} as run, f.source_name || '.' || f.table_name as source, f.age_s / 3600 as age_h,"
        " f.status, f.warn_after_s / 3600 as warn_h, f.error_after_s / 3600 as error_h"
        " from {freshness_results} f join {invocations} i using (invocation_id) order by i.completed_at"
    )
    if freshness.empty:
        st.info("No recorded run checked source freshness yet.")
    else:
        lines = (
            alt.Chart(freshness)
            .mark_line(point=True)
            .encode(
                x=alt.X("run:N", title="Run (UTC)", sort=None, axis=alt.Axis(labelAngle=-30)),
                y=alt.Y("age_h:Q", title="Hours since the newest load"),
                color=alt.Color("source:N", title="Source"),
                tooltip=["run:N", "source:N", alt.Tooltip("age_h:Q", format=",.1f"), "status:N"],
            )
        )
        limits = freshness.iloc[[-1]][["warn_h", "error_h"]].melt(var_name="limit", value_name="hours")
        rules = (
            alt.Chart(limits)
            .mark_rule(strokeDash=[4, 4])
            .encode(y="hours:Q", color=alt.value("#c62828"), tooltip=["limit:N", "hours:Q"])
        )
        chart(alt.layer(lines, rules).properties(height=300), key="health_freshness")
        now = freshness[freshness["run"] == freshness["run"].iloc[-1]]
        warn_h, error_h = now["warn_h"].iloc[0], now["error_h"].iloc[0]
        st.caption(
            "Last check: "
            + ", ".join(f"{r.source} {r.status} ({r.age_h:.1f} h)" for r in now.itertuples())
            + f". Dashed: warn after {warn_h:.0f} h, error after {error_h:.0f} h."
        )
with right:
    st.subheader("Quarantined files by reason")
    quarantined = history.query(
        f"select {RUN_LABEL} as run, m.dimension_value as reason, m.metric_value as files from {{metrics}} m"
        " join {invocations} i using (invocation_id) where m.metric_name = 'files_quarantined'"
        " and m.dimension = 'reason' and m.metric_value > 0 order by i.completed_at"
    )
    if quarantined.empty:
        st.success("No recorded run quarantined a file.", icon=":material/check_circle:")
    else:
        chart(
            alt.Chart(quarantined)
            .mark_bar()
            .encode(
                x=alt.X("run:N", title="Run (UTC)", sort=None, axis=alt.Axis(labelAngle=-30)),
                y=alt.Y("files:Q", title="Files"),
                color=alt.Color("reason:N", title="Reason"),
                tooltip=["run:N", "reason:N", alt.Tooltip("files:Q", format=",")],
            )
            .properties(height=300),
            key="health_quarantine",
        )

st.subheader("Anomalies")
found = history.query(
    f"select {RUN_LABEL} as run, a.kind, a.relation, a.column_name, a.severity, a.detail"
    " from {anomalies} a join {invocations} i using (invocation_id) order by i.completed_at desc, a.kind"
)
if found.empty:
    st.success(
        "No anomaly in any recorded run: every table's size within its learned band, every published mart's"
        " columns as in the publish before, every source fresh.",
        icon=":material/check_circle:",
    )
else:
    st.dataframe(found, hide_index=True, key="health_anomalies")
st.caption(
    "Volume: each table's count against its own history (median change +- 3 MADs, at least 5 %); schema:"
    " columns added, removed or retyped since the previous publish. docs/monitoring.md"
)
