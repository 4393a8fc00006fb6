"""Countries and languages: production share by region and decade, top countries and original languages."""

from __future__ import annotations

import altair as alt
import streamlit as st
from ui import chart, page_data, title_type, year_range

COUNTRIES = "mart_reporting__country_decade"
LANGUAGES = "mart_reporting__language_decade"
NEEDS = {
    COUNTRIES: ["country_name", "region", "decade_start_year", "title_count", "movie_count", "series_count"],
    LANGUAGES: ["language_name", "decade_start_year", "title_count", "movie_count", "series_count"],
}
COUNT = {None: "title_count", "movie": "movie_count", "series": "series_count"}

published = page_data("Countries and languages", NEEDS)
count = COUNT[title_type("countries_type")]
low, high = (
    int(v)
    for v in published.query(
        f"select min(decade_start_year), max(decade_start_year) from {{{COUNTRIES}}}"
        " where decade_start_year is not null"
    ).iloc[0]
)
years = year_range("Decades (first year)", low, high, "countries_decades")
where = years.where("decade_start_year")

st.subheader("Production share by region and decade")
regions = published.query(
    f"select decade_start_year as decade, region, sum({count}) as titles from {{{COUNTRIES}}}"
    " where decade_start_year between ? and ? group by all having sum(" + count + ") > 0",
    [years.first, years.last],
)
chart(
    alt.Chart(regions)
    .mark_bar()
    .encode(
        x=alt.X("decade:O", title="Decade"),
        y=alt.Y("titles:Q", title="Share of titles", stack="normalize", axis=alt.Axis(format="%")),
        color=alt.Color("region:N", title="Region"),
        tooltip=[
            alt.Tooltip("decade:O", title="Decade"),
            alt.Tooltip("region:N", title="Region"),
            alt.Tooltip("titles:Q", title="Titles", format=","),
        ],
    )
    .properties(height=340),
    key="countries_regions",
)
st.caption(
    "A movie counts in each of its production countries, a series in each of its origin countries;"
    " titles without a country or a date are not in these charts."
)

left, right = st.columns(2)
with left:
    st.subheader("Top countries")
    countries = published.query(
        f"select country_name, region, sum({count}) as titles from {{{COUNTRIES}}} where {where}"
        f" group by all having sum({count}) > 0 order by titles desc, country_name limit 15",
        years.params,
    )
    chart(
        alt.Chart(countries)
        .mark_bar()
        .encode(
            x=alt.X("titles:Q", title="Titles"),
            y=alt.Y("country_name:N", title=None, sort="-x", axis=alt.Axis(labelLimit=220)),
            color=alt.Color("region:N", title="Region"),
            tooltip=["country_name:N", "region:N", alt.Tooltip("titles:Q", format=",")],
        )
        .properties(height=400),
        key="countries_top",
    )
with right:
    st.subheader("Top original languages")
    languages = published.query(
        f"select language_name, sum({count}) as titles from {{{LANGUAGES}}} where {where}"
        f" group by all having sum({count}) > 0 order by titles desc, language_name limit 15",
        years.params,
    )
    chart(
        alt.Chart(languages)
        .mark_bar(color="#6a51a3")
        .encode(
            x=alt.X("titles:Q", title="Titles"),
            y=alt.Y("language_name:N", title=None, sort="-x", axis=alt.Axis(labelLimit=220)),
            tooltip=["language_name:N", alt.Tooltip("titles:Q", format=",")],
        )
        .properties(height=400),
        key="countries_languages",
    )
    st.caption("Each title counts once, in its original language.")
