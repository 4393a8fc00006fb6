"""Top titles: the Bayesian-ranked list, filtered by type, decade, genre and votes; rows link to TMDB."""

from __future__ import annotations

import altair as alt
import streamlit as st
from data import TMDB_URL
from ui import chart, number, page_data

TOP = "mart_reporting__top_titles"
NEEDS = {
    TOP: [
        "title_type", "tmdb_id", "title", "release_year", "genre_names", "vote_count", "vote_average",
        "bayesian_rating", "rating_rank", "mean_vote_average", "min_votes",
    ]
}  # fmt: skip
SHOWN = 100

published = page_data("Top titles", NEEDS)
kind = st.sidebar.radio("Type", ["Movies", "Series"], key="top_type")
title_type = "movie" if kind == "Movies" else "series"
decades = published.query(
    f"select distinct release_year // 10 * 10 as decade from {{{TOP}}}"
    " where title_type = ? and release_year is not null order by decade desc",
    [title_type],
)["decade"].tolist()
decade = st.sidebar.selectbox("Decade", ["All decades", *[f"{int(d)}s" for d in decades]], key="top_decade")
genres = published.query(
    f"select distinct unnest(string_split(genre_names, ', ')) as genre from {{{TOP}}}"
    " where title_type = ? order by genre",
    [title_type],
)["genre"].tolist()
genre = st.sidebar.selectbox("Genre", ["All genres", *genres], key="top_genre")
floor, most = (
    int(v)
    for v in published.query(
        f"select min(min_votes), max(vote_count) from {{{TOP}}} where title_type = ?", [title_type]
    ).iloc[0]
)
min_votes = st.sidebar.number_input(
    "Minimum votes", min_value=floor, max_value=max(floor, most), value=floor, step=100, key="top_votes"
)

conditions, params = ["title_type = ?", "vote_count >= ?"], [title_type, int(min_votes)]
if decade != "All decades":
    conditions.append("release_year // 10 * 10 = ?")
    params.append(int(str(decade).removesuffix("s")))
if genre != "All genres":
    conditions.append("list_contains(string_split(genre_names, ', '), ?)")
    params.append(genre)
where = " and ".join(conditions)
ranked = published.query(
    "select rating_rank, title, release_year, genre_names, vote_count, vote_average, bayesian_rating,"
    f" '{TMDB_URL}/' || case title_type when 'movie' then 'movie' else 'tv' end || '/' || tmdb_id"
    " as tmdb_page"
    f" from {{{TOP}}} where {where} order by rating_rank limit {SHOWN}",
    params,
)
matching = published.scalar(f"select count(*) from {{{TOP}}} where {where}", params)
mean = published.scalar(f"select min(mean_vote_average) from {{{TOP}}} where title_type = ?", [title_type])
st.caption(
    f"IMDb-style Bayesian rating: a title's mean vote pulled towards the mean of all rated {kind.lower()}"
    f" (C = {mean:.2f}) the fewer votes it has; ranked among the {kind.lower()} with at least {number(floor)}"
    f" votes. {number(matching)} match these filters."
)
if ranked.empty:
    st.info("No title matches these filters.")
    st.stop()

chart(
    alt.Chart(ranked.head(15))
    .mark_bar()
    .encode(
        x=alt.X("bayesian_rating:Q", title="Bayesian rating", scale=alt.Scale(zero=False)),
        y=alt.Y("title:N", title=None, sort="-x", axis=alt.Axis(labelLimit=320)),
        tooltip=[
            alt.Tooltip("rating_rank:Q", title="Rank"),
            alt.Tooltip("title:N", title="Title"),
            alt.Tooltip("release_year:Q", title="Year", format="d"),
            alt.Tooltip("vote_average:Q", title="Mean vote", format=".2f"),
            alt.Tooltip("vote_count:Q", title="Votes", format=","),
            alt.Tooltip("bayesian_rating:Q", title="Bayesian rating", format=".3f"),
        ],
    )
    .properties(height=380),
    key="top_chart",
)
st.dataframe(
    ranked,
    hide_index=True,
    column_order=[
        "rating_rank",
        "title",
        "release_year",
        "genre_names",
        "vote_count",
        "vote_average",
        "bayesian_rating",
        "tmdb_page",
    ],
    column_config={
        "rating_rank": st.column_config.NumberColumn("Rank", format="%d"),
        "title": "Title",
        "release_year": st.column_config.NumberColumn("Year", format="%d"),
        "genre_names": "Genres",
        "vote_count": st.column_config.NumberColumn("Votes", format="localized"),
        "vote_average": st.column_config.NumberColumn("Mean vote", format="%.2f"),
        "bayesian_rating": st.column_config.NumberColumn("Bayesian rating", format="%.3f"),
        "tmdb_page": st.column_config.LinkColumn("TMDB", display_text=r"https://www\.themoviedb\.org/(.*)"),
    },
    key="top_table",
)
st.caption(f"The first {SHOWN} matching titles; each links to its page on TMDB by id.")
