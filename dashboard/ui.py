"""What every page shares: opening the published data for a page, charts, numbers, year ranges."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import altair as alt
import streamlit as st
from data import NothingPublished, Published, PublishedDataError, open_published, publish_dir

# The full dataset's scatter has ~10k points; Altair's default limit is 5,000 rows per chart.
alt.data_transformers.disable_max_rows()

TYPE_CHOICES = {"Movies and series": None, "Movies": "movie", "Series": "series"}


def page_data(title: str, needs: Mapping[str, Sequence[str]]) -> Published:
    """The published version for this load, checked against what the page reads; otherwise stop the page
    with a message (nothing published yet, or a file or column missing, named)."""
    st.title(title)
    try:
        published = open_published()
        published.require(needs)
    except NothingPublished:
        nothing_published()
        st.stop()
    except PublishedDataError as error:
        st.error(f"The published data does not match what this page needs. {error}", icon=":material/error:")
        st.caption("Run `make run` again to publish marts built by this version of the project.")
        st.stop()
    return published


def nothing_published() -> None:
    st.info(
        f"Nothing has been published yet in `{publish_dir()}`.\n\n"
        "Run **`make run`** first (offline it builds the built-in sample in a few seconds): after a green"
        " build the marts are published there, and this page shows them.",
        icon=":material/info:",
    )


def chart(spec: alt.Chart | alt.LayerChart, key: str) -> None:
    st.altair_chart(spec, width="stretch", key=key)


def number(value: object) -> str:
    if value is None:
        return "–"
    return f"{int(value):,}" if float(str(value)).is_integer() else f"{float(str(value)):,.2f}"


def money(value: object) -> str:
    if value is None:
        return "–"
    amount = float(str(value))
    for limit, unit in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(amount) >= limit:
            return f"${amount / limit:,.1f} {unit}"
    return f"${amount:,.0f}"


@dataclass(frozen=True)
class Years:
    """A chosen range of years. While it is the whole range, titles without a known year count too (in
    totals and tables; a chart along years cannot place them)."""

    first: int
    last: int
    whole: bool

    def where(self, column: str) -> str:
        return f"({column} between ? and ? or ({column} is null and ?))"

    @property
    def params(self) -> list[object]:
        return [self.first, self.last, self.whole]


def year_range(label: str, low: int, high: int, key: str) -> Years:
    """A sidebar slider over [low, high] (both included); the whole range by default."""
    if low >= high:
        return Years(low, high, True)
    chosen = st.sidebar.slider(label, min_value=low, max_value=high, value=(low, high), key=key)
    first, last = int(chosen[0]), int(chosen[1])
    return Years(first, last, (first, last) == (low, high))


def title_type(key: str) -> str | None:
    """A sidebar choice of movies, series or both: 'movie', 'series' or None."""
    choice = st.sidebar.radio("Type", list(TYPE_CHOICES), key=key)
    return TYPE_CHOICES[str(choice)]
