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
    ("overview.py", "Overview"),
    ("genres.py", "Genres over time"),
    ("top_titles.py", "Top titles"),
    ("money.py", "Money"),
    ("countries.py", "Countries and languages"),
    ("series.py", "Series"),
    ("quality.py", "Data quality"),
    ("model.py", "Model"),
    ("health.py", "Pipeline health"),
)


def start_here() -> None:
    st.title("TMDB movies & series")
    nothing_published()


# No page icons: Streamlit makes the page's icon the favicon, fetched from Google's font servers for a
# Material icon. Without one the favicon is Streamlit's own, served by the app.
st.set_page_config(page_title="TMDB warehouse", layout="wide")
try:
    open_published()
except NothingPublished:
    pages = [st.Page(start_here, title="Start here", url_path="start", default=True)]
else:
    pages = [
        st.Page(str(HERE / "views" / name), title=title, default=i == 0)
        for i, (name, title) in enumerate(PAGES)
    ]
st.navigation(pages).run()
