"""Overview: the catalogue's size, the years it covers, when it was built, its tests and its source."""

from __future__ import annotations

import altair as alt
import streamlit as st
from ui import chart, number, page_data

NEEDS = {"mart_reporting__title_year": ["title_type", "release_year", "title_count"]}
SOURCE_KINDS = {"sample": "synthetic sample", "folder": "real files (a folder)", "kaggle": "Kaggle dataset"}

published = page_data("TMDB movies & series", NEEDS)
manifest = published.manifest
totals = published.query(
    "select title_type, sum(title_count) as titles, min(release_year) as first_year,"
    " max(release_year) as last_year from {mart_reporting__title_year} group by title_type"
).set_index("title_type")
movies = int(totals["titles"].get("movie", 0))
series = int(totals["titles"].get("series", 0))
first, last = totals["first_year"].min(), totals["last_year"].max()

cols = st.columns(4)
cols[0].metric("Titles", number(movies + series))
cols[1].metric("Movies", number(movies))
cols[2].metric("Series", number(series))
cols[3].metric("Years covered", f"{int(first)}–{int(last)}" if first == first and last == last else "–")

tests = manifest.get("tests", {})
source = manifest.get("source", {})
cols = st.columns(4)
built_at = str(manifest.get("built_at", "–"))
cols[0].metric("Data as of", built_at[:10], help=f"Built {built_at} (UTC)")
cols[1].metric("Tests passed", number(tests.get("passed")))
cols[2].metric("Tests failed", number(tests.get("failed")))
cols[3].metric("Tests skipped", number(tests.get("skipped")), help=tests.get("skipped_reason") or None)
kind = SOURCE_KINDS.get(source.get("kind", ""), source.get("kind", "?"))
st.caption(
    f"Source: **{kind}** — {source.get('label', '')}."
    f" Built {built_at.replace('T', ' ').removesuffix('Z')} UTC on {manifest.get('target', '?')}"
    f" with dbt {manifest.get('dbt_version', '?')};"
    f" published version `{published.version}`."
)

by_year = published.query(
    "select release_year, case title_type when 'movie' then 'Movies' else 'Series' end as type,"
    " title_count from {mart_reporting__title_year} where release_year is not null order by release_year"
)
st.subheader("Titles released per year")
chart(
    alt.Chart(by_year)
    .mark_bar()
    .encode(
        x=alt.X("release_year:Q", title="Year", axis=alt.Axis(format="d")),
        y=alt.Y("title_count:Q", title="Titles", stack=True),
        color=alt.Color("type:N", title="Type"),
        tooltip=[
            alt.Tooltip("release_year:Q", title="Year", format="d"),
            alt.Tooltip("type:N", title="Type"),
            alt.Tooltip("title_count:Q", title="Titles", format=","),
        ],
    )
    .properties(height=320),
    key="overview_titles_per_year",
)
undated = published.scalar(
    "select coalesce(sum(title_count), 0) from {mart_reporting__title_year} where release_year is null"
)
st.caption(f"{number(undated)} titles have no known release or first-air date and are not in the chart.")
