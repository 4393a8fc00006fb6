"""The dashboard in a real browser: headless Chromium (Debian's `chromium`, or CI's Chrome) driven by
Playwright for Python, against `tmdb dashboard` (what `make dashboard` runs) on a free port.

It opens the app, goes to every page through the sidebar as a user would, waits until Streamlit has run
the page and every chart is drawn, and fails on an error element, an exception, a browser console error
or a chart without marks. One screenshot per page goes to TMDB_SCREENSHOT_DIR (default target/screenshots/),
with timings.json: per page, the time from the click to every chart drawn, and the time of one filter
change where the page has one.

By default the app shows the built-in sample, built and published once per session. TMDB_DASHBOARD_PUBLISH_DIR
points it at any published folder instead (the real files, the full-size dataset). The browser is
TMDB_CHROMIUM, else /usr/bin/chromium, else chromium or google-chrome on PATH; where none is found, or
playwright is not installed, the tests fail naming what to install (the `dashboard` gate must not pass by
skipping).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _dashboard_helpers import PAGES, dashboard_server, published_sample
from _pipeline_helpers import REPO_ROOT
from tmdb_devtools.browser import CHROMIUM_FLAGS, INSTALL_HINT, find_chromium

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ModuleNotFoundError:  # the browser fixture fails, naming what to install
    PlaywrightTimeout = TimeoutError

VIEWPORT = {"width": 1400, "height": 1000}
# Charts each page draws at least (the Data quality page adds one when files were quarantined).
MIN_CHARTS = {
    "overview": 1,
    "genres": 2,
    "top_titles": 1,
    "money": 3,
    "countries": 3,
    "series": 4,
    "quality": 2,
    "model": 4,
    "health": 4,
}
# A page must be drawn within this (a busy 2-core machine included); docs/dashboard.md has measured times.
PAGE_TIMEOUT_MS = 30_000
# One filter change per page that has an easy one: (widget label, option to pick).
INTERACTIONS = {"overview": None, "genres": ("Type", "Movies"), "top_titles": ("Type", "Series")}
DRAWN_MARKS = """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')].map(chart =>
    [...chart.querySelectorAll('svg g.role-mark')].reduce((n, g) => n + g.childElementCount, 0)
    + (chart.querySelector('canvas') ? 1 : 0))"""


def chromium_path() -> str:
    found = find_chromium()
    if found is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    return found


@pytest.fixture(scope="module")
def screenshot_dir() -> Path:
    folder = Path(os.environ.get("TMDB_SCREENSHOT_DIR", REPO_ROOT / "target" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("TMDB_DASHBOARD_PUBLISH_DIR")
    publish_dir = Path(given) if given else published_sample(tmp_path_factory).publish_dir
    log = tmp_path_factory.mktemp("dashboard-server") / "server.log"
    with dashboard_server(publish_dir, log) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        pytest.fail("playwright is not installed: `make venv-dev`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def session(browser: Any, app_url: str, screenshot_dir: Path) -> Iterator[dict[str, Any]]:
    """One browser tab (a fresh profile) on the app, with every console error and page error collected."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # nothing may be fetched from anywhere but the app itself (Streamlit's front end is in its wheel)
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((app_url, "data:", "blob:"))
            else problems.append(f"request to the internet: {request.url}")
        ),
    )
    page.goto(app_url)
    state: dict[str, Any] = {"page": page, "problems": problems, "timings": {}}
    yield state
    (screenshot_dir / "timings.json").write_text(json.dumps(state["timings"], indent=2) + "\n")
    context.close()


def wait_until_drawn(page: Any, title: str, charts: int) -> list[int]:
    """Until the page `title` has run to the end and drawn every one of its (at least `charts`) charts;
    the marks each chart drew."""
    page.wait_for_function(
        """(title) => {
            const app = document.querySelector('[data-test-script-state]');
            const h1 = document.querySelector('[data-testid="stMain"] h1');
            return app && app.getAttribute('data-test-script-state') === 'notRunning'
                && h1 && h1.textContent.includes(title);
        }""",
        arg=title,
        timeout=PAGE_TIMEOUT_MS,
    )
    page.wait_for_function(
        f"(charts) => {{ const marks = ({DRAWN_MARKS})();"
        " return marks.length >= charts && marks.every(n => n > 0); }",
        arg=charts,
        timeout=PAGE_TIMEOUT_MS,
    )
    return list(page.evaluate(DRAWN_MARKS))


def visible_errors(page: Any) -> list[str]:
    found = []
    for selector in ('[data-testid="stException"]', '[data-testid="stAlertContentError"]'):
        found += [element.inner_text() for element in page.locator(selector).all()]
    return found


def full_page_screenshot(page: Any, path: Path) -> None:
    """Streamlit scrolls inside its main block, so the viewport is made as tall as the page for the shot."""
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], int(height))})
    page.wait_for_timeout(300)
    page.screenshot(path=str(path))
    page.set_viewport_size(VIEWPORT)


@pytest.mark.parametrize("name", list(PAGES))
def test_page_draws_every_chart_without_errors(
    name: str, session: dict[str, Any], screenshot_dir: Path
) -> None:
    page, problems = session["page"], session["problems"]
    _, title = PAGES[name]
    started = time.monotonic()
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    marks = wait_until_drawn(page, "TMDB movies & series" if name == "overview" else title, MIN_CHARTS[name])
    timings = {"open_s": round(time.monotonic() - started, 3)}
    interaction = INTERACTIONS.get(name)
    if interaction:
        label, option = interaction
        started = time.monotonic()
        page.locator('[data-testid="stSidebar"] [data-testid="stRadio"]', has_text=label).get_by_text(
            option, exact=True
        ).click()
        with contextlib.suppress(PlaywrightTimeout):  # a quick rerun may be over before it is seen
            page.wait_for_selector('[data-test-script-state="running"]', timeout=2000)
        wait_until_drawn(page, title, MIN_CHARTS[name])
        timings[f"filter_{label.lower()}_{option.lower()}_s"] = round(time.monotonic() - started, 3)
    session["timings"][name] = timings
    full_page_screenshot(page, screenshot_dir / f"{name}.png")

    assert not visible_errors(page), f"{name}: error elements on the page: {visible_errors(page)}"
    assert len(marks) >= MIN_CHARTS[name], f"{name}: {len(marks)} charts drawn, expected {MIN_CHARTS[name]}"
    assert all(n > 0 for n in marks), f"{name}: a chart drew no marks: {marks}"
    assert not problems, f"{name}: browser console errors or outside requests: {problems}"
