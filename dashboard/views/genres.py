"""Genres over time: titles per genre per year and the vote-weighted rating per genre, by type and years."""

from __future__ import annotations

import altair as alt
import streamlit as st
from ui import chart, page_data, title_type, year_range

GENRE_YEAR = "mart_reporting__genre_year"
NEEDS = {
    GENRE_YEAR: [
        "genre_name", "release_year", "title_count", "movie_count", "series_count",
        "vote_weighted_average", "rating_vote_count", "movie_vote_weighted_average",
        "movie_rating_vote_count", "series_vote_weighted_average", "series_rating_vote_count",
    ]
}  # fmt: skip
# Per type: the count, rating and votes columns of the mart.
COLUMNS = {
    None: ("title_count", "vote_weighted_average", "rating_vote_count"),
    "movie": ("movie_count", "movie_vote_weighted_average", "movie_rating_vote_count"),
    "series": ("series_count", "series_vote_weighted_average", "series_rating_vote_count"),
}

published = page_data("Genres over time", NEEDS)
kind = title_type("genres_type")
count, rating, votes = COLUMNS[kind]
low, high = (
    int(v)
    for v in published.query(
        "select min(release_year), max(release_year) from {" + GENRE_YEAR + "} where release_year is not null"
    ).iloc[0]
)
years = year_range("Years", low, high, "genres_years")
first, last = years.first, years.last
ranked = published.query(
    f"select genre_name, sum({count}) as titles from {{{GENRE_YEAR}}}"
    " where release_year between ? and ? group by genre_name having sum(" + count + ") > 0"
    " order by titles desc, genre_name",
    [first, last],
)
genres = st.sidebar.multiselect(
    "Genres", ranked["genre_name"].tolist(), default=ranked["genre_name"].head(8).tolist(), key="genres_pick"
)
if not genres:
    st.info("Pick at least one genre in the sidebar.")
    st.stop()

per_year = published.query(
    f"select genre_name, release_year, {count} as titles, {rating} as rating, {votes} as votes"
    f" from {{{GENRE_YEAR}}} where release_year between ? and ? and list_contains(?, genre_name)"
    " order by release_year, genre_name",
    [first, last, genres],
)
# a genre without titles in a year is a 0 there, not a gap the stacked areas would bridge
titles = (
    per_year.pivot_table(
        index="release_year", columns="genre_name", values="titles", aggfunc="sum", fill_value=0
    )
    .reindex(
        range(int(per_year["release_year"].min()), int(per_year["release_year"].max()) + 1), fill_value=0
    )
    .rename_axis("release_year")
    .reset_index()
    .melt(id_vars="release_year", var_name="genre_name", value_name="titles")
)
st.subheader("Titles per genre per year")
st.caption("A title counts once in each of its genres.")
chart(
    alt.Chart(titles)
    .mark_area()
    .encode(
        x=alt.X("release_year:Q", title="Year", axis=alt.Axis(format="d")),
        y=alt.Y("titles:Q", title="Titles", stack=True),
        color=alt.Color("genre_name:N", title="Genre", sort=genres),
        tooltip=[
            alt.Tooltip("genre_name:N", title="Genre"),
            alt.Tooltip("release_year:Q", title="Year", format="d"),
            alt.Tooltip("titles:Q", title="Titles", format=","),
        ],
    )
    .properties(height=340),
    key="genres_titles",
)

st.subheader("Vote-weighted rating per genre and decade")
min_votes = st.sidebar.slider(
    "Rating: at least this many votes in a decade", 0, 5000, 100, 100, key="genres_votes"
)
rated = published.query(
    f"select genre_name, release_year // 10 * 10 as decade, sum({rating} * {votes}) / sum({votes}) as rating,"
    f" sum({votes}) as votes from {{{GENRE_YEAR}}}"
    f" where release_year between ? and ? and list_contains(?, genre_name) and {votes} > 0"
    " group by all having sum(" + votes + ") >= greatest(?, 1) order by decade, genre_name",
    [first, last, genres, min_votes],
)
if rated.empty:
    st.info("No genre has that many votes in a decade of this selection; lower the minimum in the sidebar.")
else:
    chart(
        alt.Chart(rated)
        .mark_line(point=True)
        .encode(
            x=alt.X("decade:Q", title="Decade", axis=alt.Axis(format="d")),
            y=alt.Y("rating:Q", title="Rating (0–10), weighted by votes", scale=alt.Scale(zero=False)),
            color=alt.Color("genre_name:N", title="Genre", sort=genres),
            tooltip=[
                alt.Tooltip("genre_name:N", title="Genre"),
                alt.Tooltip("decade:Q", title="Decade", format="d"),
                alt.Tooltip("rating:Q", title="Rating", format=".2f"),
                alt.Tooltip("votes:Q", title="Votes", format=","),
            ],
        )
        .properties(height=340),
        key="genres_rating",
    )
    st.caption(
        "sum(rating × votes) / sum(votes) over the rated titles of the genre in the decade's chosen years."
    )
