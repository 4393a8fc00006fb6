"""The dashboard's pages run headless with Streamlit's AppTest on the built-in sample, built and
published once per session (TMDB_DASHBOARD_PUBLISH_DIR points them at another published folder): no
exception, every chart has data, and each headline figure equals the same figure computed in SQL on the
published files. Without a publish the app says to run `make run`; a published file without a column a
page reads is named, with the column."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from streamlit.testing.v1 import AppTest  # the dashboard extra; the dashboard gate says so if missing

from _dashboard_helpers import DASHBOARD, PAGES, published_sample

pytestmark = pytest.mark.slow

APP = str(DASHBOARD / "app.py")
TIMEOUT_S = 120


@pytest.fixture(scope="module")
def publish_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("TMDB_DASHBOARD_PUBLISH_DIR")
    return Path(given) if given else published_sample(tmp_path_factory).publish_dir


def run_page(publish_dir: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TMDB_PUBLISH_DIR", str(publish_dir))
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    app.run()
    if name != "overview":
        app.switch_page(f"views/{name}.py")
        app.run()
    return app


def sql(publish_dir: Path, query: str) -> Any:
    """One value, computed with DuckDB straight on the published files (`{mart}` = that mart's file)."""
    folder = (publish_dir / "latest").resolve() if (publish_dir / "latest").exists() else publish_dir
    files = {name: f"read_parquet('{folder / (name + '.parquet')}')" for name in _relations(folder)}
    with duckdb.connect() as con:
        return con.execute(query.format(**files)).fetchone()[0]


def _relations(folder: Path) -> list[str]:
    return [path.stem for path in folder.glob("*.parquet")]


def metrics(app: Any) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def charts(app: Any) -> list[Any]:
    return [element.proto for element in app.get("vega_lite_chart")]


def chart_rows(chart: Any) -> int:
    import pyarrow as pa

    rows = sum(pa.ipc.open_stream(d.data.data).read_all().num_rows for d in chart.datasets if d.data.data)
    if chart.data.data:
        rows += pa.ipc.open_stream(chart.data.data).read_all().num_rows
    return rows


def n(value: Any) -> str:
    """A count as the pages show it; a dash where the manifest has none (a publish of a skipped build)."""
    return "–" if value is None else f"{int(value):,}"


@pytest.mark.parametrize("name", list(PAGES))
def test_page_runs_and_every_chart_has_data(
    name: str, publish_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = run_page(publish_dir, name, monkeypatch)
    assert not app.exception, f"{name}: {[e.value for e in app.exception]}"
    assert not app.error, f"{name}: {[e.value for e in app.error]}"
    drawn = charts(app)
    assert drawn, f"{name}: no chart"
    empty = [i for i, chart in enumerate(drawn) if chart_rows(chart) == 0]
    assert not empty, f"{name}: charts {empty} have no data"


def test_overview_figures_equal_sql_on_the_published_files(
    publish_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = metrics(run_page(publish_dir, "overview", monkeypatch))
    titles = "{mart_reporting__title_year}"
    assert shown["Titles"] == n(sql(publish_dir, f"select sum(title_count) from {titles}"))
    assert shown["Movies"] == n(
        sql(publish_dir, f"select sum(title_count) from {titles} where title_type = 'movie'")
    )
    assert shown["Series"] == n(
        sql(publish_dir, f"select sum(title_count) from {titles} where title_type = 'series'")
    )
    # and the catalogue's size is the core's, as the warehouse reconciled it
    assert shown["Titles"] == n(
        sql(publish_dir, "select sum(core_titles) from {mart_audit__load_reconciliation}")
    )
    first = sql(publish_dir, f"select min(release_year) from {titles}")
    last = sql(publish_dir, f"select max(release_year) from {titles}")
    assert shown["Years covered"] == f"{first}–{last}"


def test_overview_shows_the_build_time_tests_and_source_of_the_manifest(
    publish_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    folder = (publish_dir / "latest").resolve()
    manifest = json.loads((folder / "manifest.json").read_text())
    app = run_page(publish_dir, "overview", monkeypatch)
    shown = metrics(app)
    assert shown["Data as of"] == manifest["built_at"][:10]
    assert shown["Tests passed"] == n(manifest["tests"]["passed"])
    assert shown["Tests failed"] == n(manifest["tests"]["failed"])
    assert shown["Tests skipped"] == n(manifest["tests"]["skipped"])
    captions = " ".join(caption.value for caption in app.caption)
    assert manifest["source"]["label"] in captions and folder.name in captions


def test_money_figures_equal_sql_on_the_published_files(
    publish_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = metrics(run_page(publish_dir, "money", monkeypatch))
    movies = "{mart_finance__movie_financials}"
    known = sql(publish_dir, f"select count(*) from {movies} where has_known_financials")
    assert shown["Movies with budget and revenue"] == n(known)
    budget = sql(publish_dir, f"select sum(budget_usd) from {movies} where has_known_financials")
    revenue = sql(publish_dir, f"select sum(revenue_usd) from {movies} where has_known_financials")
    assert shown["ROI, pooled"] == f"{(revenue - budget) / budget:.0%}"


def test_series_figures_equal_sql_on_the_published_files(
    publish_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = metrics(run_page(publish_dir, "series", monkeypatch))
    series = "{mart_reporting__series}"
    assert shown["Series"] == n(sql(publish_dir, f"select count(*) from {series}"))
    assert shown["Seasons"] == n(sql(publish_dir, f"select sum(number_of_seasons) from {series}"))
    assert shown["Episodes"] == n(sql(publish_dir, f"select sum(number_of_episodes) from {series}"))
    assert shown["In production"] == n(
        sql(publish_dir, f"select count(*) from {series} where is_in_production")
    )


def test_quality_figures_equal_sql_on_the_published_files(
    publish_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = metrics(run_page(publish_dir, "quality", monkeypatch))
    reconciliation = "{mart_audit__load_reconciliation}"
    assert shown["Files staged"] == n(sql(publish_dir, f"select sum(files_staged) from {reconciliation}"))
    assert shown["Files quarantined"] == n(
        sql(publish_dir, f"select sum(files_quarantined) from {reconciliation}")
    )
    assert shown["Batches"] == n(
        sql(publish_dir, "select count(distinct batch_id) from {mart_audit__load_history}")
    )
    assert shown["Counts reconciled"] == (
        "yes" if sql(publish_dir, f"select bool_and(is_reconciled) from {reconciliation}") else "NO"
    )


def test_health_figures_equal_sql_on_the_published_history(
    publish_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fixture ran the pipeline twice: the page shows both runs, as the published history holds them."""
    shown = metrics(run_page(publish_dir, "health", monkeypatch))
    history = (publish_dir / "history" / "latest").resolve()
    with duckdb.connect() as con:
        runs, last_status, last_anomalies = con.execute(
            f"select count(*), arg_max(status, completed_at), arg_max(anomalies, completed_at)"
            f" from read_parquet('{history / 'invocations.parquet'}')"
        ).fetchone()
    assert runs >= 2
    assert shown["Runs recorded"] == n(runs)
    assert shown["Last run"] == last_status
    assert shown["Anomalies in the last run"] == n(last_anomalies)


def test_top_titles_lists_the_ranked_titles_in_order_with_their_tmdb_pages(
    publish_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = run_page(publish_dir, "top_titles", monkeypatch)
    table = app.dataframe[0].value
    top = "{mart_reporting__top_titles}"
    expected = sql(
        publish_dir,
        f"select list(tmdb_id order by rating_rank) from (select * from {top} where title_type = 'movie'"
        " order by rating_rank limit 100)",
    )
    assert [int(url.rsplit("/", 1)[1]) for url in table["tmdb_page"]] == list(expected)
    assert all(url.startswith("https://www.themoviedb.org/movie/") for url in table["tmdb_page"])


def test_without_a_publish_the_app_says_to_run_make_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = run_page(tmp_path / "nothing-here", "overview", monkeypatch)
    assert not app.exception
    assert any("make run" in info.value for info in app.info), [e.value for e in app.main]


def test_a_missing_column_is_an_error_naming_the_file_and_column(
    publish_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = tmp_path / "20000101T000000.000000Z"
    shutil.copytree((publish_dir / "latest").resolve(), version)
    broken = version / "mart_reporting__genre_year.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"copy (select * exclude (vote_weighted_average) from read_parquet('{broken}'))"
            f" to '{broken}.new' (format parquet)"
        )
    os.replace(f"{broken}.new", broken)
    (tmp_path / "latest").symlink_to(version.name)
    app = run_page(tmp_path, "genres", monkeypatch)
    assert not app.exception
    messages = [error.value for error in app.error]
    assert messages and str(broken) in messages[0] and "`vote_weighted_average`" in messages[0], messages


def test_the_exposure_depends_on_exactly_the_marts_the_pages_read() -> None:
    import re

    import yaml

    read = {
        name
        for page in (DASHBOARD / "views").glob("*.py")
        for name in re.findall(r'"(mart_[a-z_]+)"', page.read_text())
    }
    exposures = yaml.safe_load((DASHBOARD.parent / "models" / "marts" / "_exposures.yml").read_text())
    dashboard = next(e for e in exposures["exposures"] if e["name"] == "reporting_dashboard")
    declared = {re.sub(r"^ref\('(.+)'\)$", r"\1", ref) for ref in dashboard["depends_on"]}
    assert declared == read
    assert dashboard["url"] == "http://127.0.0.1:8501"


def test_model_page_shows_the_published_model_card_and_its_test_predictions(
    publish_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    card_file = publish_dir.parent / "ml" / "latest" / "model_card.json"
    card = json.loads(card_file.read_text())
    app = run_page(publish_dir, "model", monkeypatch)
    shown = metrics(app)
    models = card["metrics"]["models"]
    assert shown["RMSLE, gradient boosting"] == f"{models['gradient_boosting']['rmsle']:.3f}"
    assert shown["RMSLE, mean baseline"] == f"{models['mean_baseline']['rmsle']:.3f}"
    assert shown["Train movies"] == n(card["rows"]["train"])
    assert shown["Test movies"] == n(card["rows"]["test"])
    assert shown["Data version"] == card["data"]["version"]
    # the scatter draws every test prediction
    predictions = publish_dir.parent / "ml" / "latest" / "predictions.parquet"
    tested = sql(publish_dir, f"select count(*) from read_parquet('{predictions}') where split = 'test'")
    assert tested == card["rows"]["test"]
    assert max(chart_rows(chart) for chart in charts(app)) >= tested


def test_model_page_without_a_model_says_how_to_get_one(
    publish_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMDB_ML_DIR", str(tmp_path / "no-model"))
    app = run_page(publish_dir, "model", monkeypatch)
    assert not app.exception
    assert any("make run" in info.value for info in app.info)
