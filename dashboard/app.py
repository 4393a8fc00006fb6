"""The TMDB warehouse dashboard: one Streamlit app over the published marts (`make dashboard`).

Each page reads only the published Parquet files (data.py), never the DuckDB warehouse; docs/dashboard.md
says what each page shows and from which mart.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from data import NothingPublished, open_published
from ui import nothing_published

HERE = Path(__file__).resolve().parent
PAGES = (
    ("overview.py", "Overview", ":material/dashboard:"),
    ("genres.py", "Genres over time", ":material/stacked_line_chart:"),
    ("top_titles.py", "Top titles", ":material/star:"),
    ("money.py", "Money", ":material/payments:"),
    ("countries.py", "Countries and languages", ":material/public:"),
    ("series.py", "Series", ":material/live_tv:"),
    ("quality.py", "Data quality", ":material/fact_check:"),
)


def start_here() -> None:
    st.title("TMDB movies & series")
    nothing_published()


st.set_page_config(page_title="TMDB warehouse", page_icon=":material/movie:", layout="wide")
try:
    open_published()
except NothingPublished:
    pages = [st.Page(start_here, title="Start here", url_path="start", default=True)]
else:
    pages = [
        st.Page(str(HERE / "pages" / name), title=title, icon=icon, default=i == 0)
        for i, (name, title, icon) in enumerate(PAGES)
    ]
st.navigation(pages).run()
