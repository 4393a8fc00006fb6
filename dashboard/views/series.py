"""Series: seasons and episodes, networks, status, first and last air years."""

from __future__ import annotations

import altair as alt
import streamlit as st
from data import TMDB_URL
from ui import chart, number, page_data, year_range

SERIES = "mart_reporting__series"
NEEDS = {
    SERIES: ["tmdb_id", "title", "status", "first_air_year", "last_air_year", "number_of_seasons",
             "number_of_episodes", "network_names", "vote_count", "is_in_production"],
}  # fmt: skip

published = page_data("Series", NEEDS)
low, high = (
    int(v)
    for v in published.query(
        f"select min(first_air_year), max(first_air_year) from {{{SERIES}}} where first_air_year is not null"
    ).iloc[0]
)
years = year_range("First aired", low, high, "series_years")
where = years.where("first_air_year")
params = years.params
totals = published.query(
    "select count(*) as series, sum(number_of_seasons) as seasons, sum(number_of_episodes) as episodes,"
    f" count(*) filter (where is_in_production) as in_production from {{{SERIES}}} where {where}",
    params,
).iloc[0]
cols = st.columns(4)
cols[0].metric("Series", number(totals["series"]))
cols[1].metric("Seasons", number(totals["seasons"]))
cols[2].metric("Episodes", number(totals["episodes"]))
cols[3].metric("In production", number(totals["in_production"]))

st.subheader("Series starting and ending per year")
years = published.query(
    "select first_air_year as year, 'First aired' as event, count(*) as series"
    f" from {{{SERIES}}} where {where} and first_air_year is not null"
    " group by all union all"
    f" select last_air_year, 'Last aired', count(*) from {{{SERIES}}} where {where}"
    " and last_air_year is not null group by all order by 1",
    params * 2,
)
chart(
    alt.Chart(years)
    .mark_line(point=True)
    .encode(
        x=alt.X("year:Q", title="Year", axis=alt.Axis(format="d")),
        y=alt.Y("series:Q", title="Series"),
        color=alt.Color("event:N", title=None),
        tooltip=[alt.Tooltip("year:Q", format="d"), "event:N", alt.Tooltip("series:Q", format=",")],
    )
    .properties(height=300),
    key="series_years_chart",
)

left, right = st.columns(2)
with left:
    st.subheader("Top networks")
    networks = published.query(
        "select network, count(*) as series, sum(number_of_episodes) as episodes from ("
        " select unnest(string_split(network_names, ', ')) as network, number_of_episodes"
        f" from {{{SERIES}}} where {where} and network_names is not null)"
        " group by network order by series desc, network limit 15",
        params,
    )
    chart(
        alt.Chart(networks)
        .mark_bar(color="#1f77b4")
        .encode(
            x=alt.X("series:Q", title="Series"),
            y=alt.Y("network:N", title=None, sort="-x", axis=alt.Axis(labelLimit=220)),
            tooltip=["network:N", alt.Tooltip("series:Q", format=","), alt.Tooltip("episodes:Q", format=",")],
        )
        .properties(height=400),
        key="series_networks",
    )
with right:
    st.subheader("Status")
    status = published.query(
        f"select coalesce(status, 'Unknown') as status, count(*) as series from {{{SERIES}}} where {where}"
        " group by all order by series desc",
        params,
    )
    chart(
        alt.Chart(status)
        .mark_bar(color="#ff7f0e")
        .encode(
            x=alt.X("series:Q", title="Series"),
            y=alt.Y("status:N", title=None, sort="-x"),
            tooltip=["status:N", alt.Tooltip("series:Q", format=",")],
        )
        .properties(height=400),
        key="series_status",
    )

st.subheader("Seasons and episodes")
seasons = published.query(
    "select least(number_of_seasons, 10) as seasons, count(*) as series,"
    " median(number_of_episodes) as median_episodes"
    f" from {{{SERIES}}} where {where} and number_of_seasons is not null group by all order by seasons",
    params,
)
seasons["label"] = seasons["seasons"].map(lambda n: "10+" if n >= 10 else str(int(n)))
chart(
    alt.Chart(seasons)
    .mark_bar(color="#2ca02c")
    .encode(
        x=alt.X("label:N", title="Seasons", sort=seasons["label"].tolist()),
        y=alt.Y("series:Q", title="Series"),
        tooltip=[
            alt.Tooltip("label:N", title="Seasons"),
            alt.Tooltip("series:Q", title="Series", format=","),
            alt.Tooltip("median_episodes:Q", title="Median episodes", format=",.0f"),
        ],
    )
    .properties(height=280),
    key="series_seasons",
)
longest = published.query(
    "select title, first_air_year, last_air_year, status, number_of_seasons, number_of_episodes,"
    " network_names,"
    f" '{TMDB_URL}/tv/' || tmdb_id as tmdb_page from {{{SERIES}}} where {where}"
    " order by number_of_episodes desc nulls last, tmdb_id limit 20",
    params,
)
st.caption("The series with the most episodes:")
st.dataframe(
    longest,
    hide_index=True,
    column_config={
        "title": "Series",
        "first_air_year": st.column_config.NumberColumn("First aired", format="%d"),
        "last_air_year": st.column_config.NumberColumn("Last aired", format="%d"),
        "status": "Status",
        "number_of_seasons": st.column_config.NumberColumn("Seasons", format="%d"),
        "number_of_episodes": st.column_config.NumberColumn("Episodes", format="localized"),
        "network_names": "Networks",
        "tmdb_page": st.column_config.LinkColumn("TMDB", display_text=r"https://www\.themoviedb\.org/(.*)"),
    },
    key="series_table",
)
