"""Money: ROI by genre and year, budget against revenue, the most profitable movies."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from data import TMDB_URL
from ui import chart, money, number, page_data, year_range

MOVIES = "mart_finance__movie_financials"
GENRES = "mart_finance__genre_year_financials"
NEEDS = {
    MOVIES: ["tmdb_id", "title", "release_year", "budget_usd", "revenue_usd", "has_known_financials",
             "profit_usd", "roi"],
    GENRES: ["genre_name", "release_year", "movie_count", "total_budget_usd", "total_profit_usd"],
}  # fmt: skip

published = page_data("Money", NEEDS)
known = f"{{{MOVIES}}} where has_known_financials"
low, high = (
    int(v) for v in published.query(f"select min(release_year), max(release_year) from {known}").iloc[0]
)
years = year_range("Release years", low, high, "money_years")
in_years = years.where("release_year")
totals = published.query(
    "select count(*) filter (where has_known_financials) as known, count(*) as movies,"
    " sum(budget_usd) filter (where has_known_financials) as budget,"
    " sum(revenue_usd) filter (where has_known_financials) as revenue"
    f" from {{{MOVIES}}} where {in_years}",
    years.params,
).iloc[0]
cols = st.columns(4)
cols[0].metric("Movies with budget and revenue", number(totals["known"]))
cols[1].metric("Total budget", money(totals["budget"]))
cols[2].metric("Total revenue", money(totals["revenue"]))
pooled = (totals["revenue"] - totals["budget"]) / totals["budget"] if totals["budget"] else None
cols[3].metric("ROI, pooled", f"{pooled:.0%}" if pooled is not None and pd.notna(pooled) else "–")
st.caption(
    f"{number(totals['known'])} of {number(totals['movies'])} movies have both a known budget and a known"
    f" revenue (released {years.first}–{years.last}{', or undated' if years.whole else ''}); TMDB's 0 means"
    " unknown, so only those are in this page's figures."
    " ROI = (revenue − budget) / budget."
)

by_genre = published.query(
    "select genre_name, sum(movie_count) as movies, sum(total_profit_usd) / sum(total_budget_usd) as roi"
    f" from {{{GENRES}}} where {in_years} group by genre_name order by roi desc",
    years.params,
)
left, right = st.columns(2)
with left:
    st.subheader("ROI by genre")
    chart(
        alt.Chart(by_genre)
        .mark_bar()
        .encode(
            x=alt.X(
                "roi:Q",
                title="Pooled ROI: total profit / total budget (symmetric log scale)",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(type="symlog"),
            ),
            y=alt.Y("genre_name:N", title=None, sort="-x", axis=alt.Axis(labelOverlap=False)),
            tooltip=[
                alt.Tooltip("genre_name:N", title="Genre"),
                alt.Tooltip("roi:Q", title="ROI", format=".0%"),
                alt.Tooltip("movies:Q", title="Movies", format=","),
            ],
        )
        .properties(height=500),
        key="money_roi_genre",
    )
with right:
    st.subheader("ROI by genre and decade")
    by_decade = published.query(
        "select genre_name, release_year // 10 * 10 as decade, sum(movie_count) as movies,"
        " sum(total_profit_usd) / sum(total_budget_usd) as roi"
        f" from {{{GENRES}}} where release_year between ? and ? group by all",
        [years.first, years.last],
    )
    chart(
        alt.Chart(by_decade)
        .mark_rect()
        .encode(
            x=alt.X("decade:O", title="Decade"),
            y=alt.Y("genre_name:N", title=None, axis=alt.Axis(labelOverlap=False)),
            color=alt.Color(
                "roi:Q",
                title="ROI",
                scale=alt.Scale(scheme="redyellowgreen", domainMid=0, clamp=True, domain=[-1, 4]),
                legend=alt.Legend(format="%"),
            ),
            tooltip=[
                alt.Tooltip("genre_name:N", title="Genre"),
                alt.Tooltip("decade:O", title="Decade"),
                alt.Tooltip("roi:Q", title="ROI", format=".0%"),
                alt.Tooltip("movies:Q", title="Movies", format=","),
            ],
        )
        .properties(height=500),
        key="money_roi_decade",
    )

st.subheader("Budget and revenue")
movies = published.query(
    f"select title, release_year, budget_usd, revenue_usd, roi from {known} and {in_years}",
    years.params,
)
points = (
    alt.Chart(movies)
    .mark_circle(size=28, opacity=0.55)
    .encode(
        x=alt.X("budget_usd:Q", title="Budget (US$, log scale)", scale=alt.Scale(type="log")),
        y=alt.Y("revenue_usd:Q", title="Revenue (US$, log scale)", scale=alt.Scale(type="log")),
        color=alt.condition(
            "datum.revenue_usd >= datum.budget_usd", alt.value("#2e7d32"), alt.value("#c62828")
        ),
        tooltip=[
            alt.Tooltip("title:N", title="Title"),
            alt.Tooltip("release_year:Q", title="Year", format="d"),
            alt.Tooltip("budget_usd:Q", title="Budget", format="$,.0f"),
            alt.Tooltip("revenue_usd:Q", title="Revenue", format="$,.0f"),
            alt.Tooltip("roi:Q", title="ROI", format=".0%"),
        ],
    )
)
bounds = pd.DataFrame({"usd": [movies[["budget_usd", "revenue_usd"]].min().min(),
                               movies[["budget_usd", "revenue_usd"]].max().max()]})  # fmt: skip
break_even = alt.Chart(bounds).mark_line(strokeDash=[4, 4], color="gray").encode(x="usd:Q", y="usd:Q")
chart((break_even + points).properties(height=420), key="money_scatter")
st.caption("Green above the dashed break-even line (revenue = budget), red below.")

st.subheader("Most profitable movies")
top = published.query(
    "select title, release_year, budget_usd, revenue_usd, profit_usd, roi,"
    f" '{TMDB_URL}/movie/' || tmdb_id as tmdb_page"
    f" from {known} and {in_years} order by profit_usd desc, tmdb_id limit 20",
    years.params,
)
st.dataframe(
    top,
    hide_index=True,
    column_config={
        "title": "Title",
        "release_year": st.column_config.NumberColumn("Year", format="%d"),
        "budget_usd": st.column_config.NumberColumn("Budget", format="dollar"),
        "revenue_usd": st.column_config.NumberColumn("Revenue", format="dollar"),
        "profit_usd": st.column_config.NumberColumn("Profit", format="dollar"),
        "roi": st.column_config.NumberColumn("ROI", format="percent"),
        "tmdb_page": st.column_config.LinkColumn("TMDB", display_text=r"https://www\.themoviedb\.org/(.*)"),
    },
    key="money_top",
)
