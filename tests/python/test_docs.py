"""The docs: no measured figure typed by hand (they come from results files through `make figures`), every
generated block current, the word budgets, and relative links that lead somewhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tmdb_devtools import __main__ as devtools_cli
from tmdb_devtools import figures
from tmdb_devtools.bench import report
from tmdb_pipeline.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]

# A typed figure the rule cannot tell from a measurement, each with why it is not one. Keep it short: a
# setting is better written in a form the rule recognises (`timeout of 1 h`, `every 50 ms`, `<= 60 s`).
ALLOWED: dict[tuple[str, str], str] = {
    ("docs/performance.md", "1 %"): "the benchmark's increment, new files: a setting of bench/dataset.py",
    (
        "docs/performance.md",
        "0.5 %",
    ): "the benchmark's increment, changed files: a setting of bench/dataset.py",
}

BUDGETS = {"README.md": 1_000, "CONTRIBUTING.md": 800}
DOCS_BUDGET = 8_000  # every .md under docs/, decision records included


def words(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").split())


def test_no_measured_figure_is_typed_outside_a_generated_block() -> None:
    found = []
    for page in figures.documents(REPO_ROOT):
        name = page.relative_to(REPO_ROOT).as_posix()
        for line, figure, text in figures.typed_figures(page.read_text(encoding="utf-8")):
            if (name, figure) not in ALLOWED:
                found.append(f"{name}:{line}: {figure!r} in {text!r}")
    assert not found, (
        "measured figures typed by hand; render them from a results file (scripts/tmdb_devtools/figures.py, "
        "make figures), or write a setting or goal as one (`timeout of 1 h`, `<= 60 s`):\n" + "\n".join(found)
    )


def test_every_allowed_figure_is_still_there() -> None:
    # an entry whose text left the page is dead weight that could hide a new figure later
    for (name, figure), reason in ALLOWED.items():
        found = [f for _, f, _ in figures.typed_figures((REPO_ROOT / name).read_text(encoding="utf-8"))]
        assert figure in found, (
            f"{name}: {figure!r} is allowed ({reason}) but no longer found: drop the entry"
        )


@pytest.mark.parametrize(
    "typed",
    ["took 12.3 s", "in 38 s", "2.26x the floor", "a ratio of 1.34×", "411 s from a fresh clone",
     "~3 min", "97 % of the build", "37-49 s", "6 min 43 s", "10 to 25 seconds", "0.8 µs a file"],
)  # fmt: skip
def test_the_checker_finds_a_planted_typed_figure(typed: str) -> None:
    page = f"# Page\n\nSome prose.\n\nThe run {typed}, on a quiet machine.\n"
    assert {line for line, _, _ in figures.typed_figures(page)} == {5}


@pytest.mark.parametrize(
    "allowed",
    ["a timeout of 1 h", "sampled every 50 ms", "(default 60 s)", "at most 30 min", "files to marts <= 60 s",
     "≥ 100x the original", "2 cores, 24 GiB", "port 8080", "Python 3.11", "the 1990s", "seed 42",
     "<!-- figures:bench-headline:start -->38 s<!-- figures:bench-headline:end -->",
     "<!-- figures:as-measured:2026-11-30:start -->\n37-49 s\n<!-- figures:as-measured:2026-11-30:end -->"],
)  # fmt: skip
def test_settings_goals_and_blocks_are_not_typed_figures(allowed: str) -> None:
    assert figures.typed_figures(f"Text: {allowed}.\n") == []


def test_generated_blocks_are_current() -> None:
    stale = figures.render_all(REPO_ROOT, check=True)
    assert not stale, f"stale figures in {[str(p.relative_to(REPO_ROOT)) for p in stale]}: run `make figures`"


def test_figures_check_fails_on_a_stale_block_and_render_fixes_it(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    result = json.loads((REPO_ROOT / "docs" / "performance.json").read_text(encoding="utf-8"))
    (tmp_path / "docs" / "performance.json").write_text(json.dumps(result), encoding="utf-8")
    start, end = figures.markers("bench-headline")
    page = tmp_path / "README.md"
    page.write_text(f"# Readme\n\nFast: {start}an old figure{end}.\n", encoding="utf-8")
    assert figures.run(tmp_path, check=True) == 1
    assert "an old figure" in page.read_text(encoding="utf-8")  # --check writes nothing
    assert figures.run(tmp_path, check=False) == 0
    text = page.read_text(encoding="utf-8")
    value = result["targets"]["files_to_tested_marts_s"]["value"]
    assert f"{start}{value:.0f} s from files to tested marts" in text  # inline stays inline
    assert figures.run(tmp_path, check=True) == 0


def test_a_block_without_a_renderer_or_results_is_explained(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no renderer for the block `figures:nonsense`"):
        figures.render_text("<!-- figures:nonsense:start -->\n<!-- figures:nonsense:end -->", {}, "x.md")
    start, end = figures.markers("gate-times")
    text = figures.render_text(f"{start}\nold\n{end}", {"bench": None})
    assert "Not measured yet: `make bench` writes docs/performance.json" in text


def test_gate_times_come_from_the_benchmarks_make_test_note() -> None:
    result = {
        "generated_at": "now",
        "steps": [{"name": "make_test", "wall_s": 400.0, "ok": True,
                   "note": "fresh clone: spark 216.9 s, dbt build 14.4 s, catalog conventions 8.3 s"}],
    }  # fmt: skip
    assert figures.gate_times(result) == {"spark": 216.9, "dbt build": 14.4, "catalog conventions": 8.3}
    assert "| catalog conventions | 8.3 |" in figures.gate_times_table(result)


def test_the_bench_block_uses_the_figures_markers() -> None:
    assert figures.markers("bench-results") == (report.START, report.END)
    assert "bench:results" not in (REPO_ROOT / "docs" / "performance.md").read_text(encoding="utf-8")


def test_figures_is_a_devtools_command() -> None:
    args = devtools_cli.parser().parse_args(["figures", "--check"])
    assert args.check and args.handler is devtools_cli.cmd_figures


def test_word_budgets() -> None:
    for name, budget in BUDGETS.items():
        assert words(REPO_ROOT / name) <= budget, f"{name}: {words(REPO_ROOT / name)} words, budget {budget}"
    counts = {
        p.relative_to(REPO_ROOT).as_posix(): words(p) for p in sorted((REPO_ROOT / "docs").rglob("*.md"))
    }
    assert sum(counts.values()) <= DOCS_BUDGET, (
        f"docs/: {sum(counts.values())} words, budget {DOCS_BUDGET}: {counts}"
    )


LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)


def anchors(page: Path) -> set[str]:
    # GitHub's heading ids: lower case, punctuation but hyphens dropped, spaces to hyphens
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    headings = re.findall(r"^#+\s+(.*?)\s*$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_relative_links_lead_to_a_file_and_heading() -> None:
    broken = []
    for page in figures.documents(REPO_ROOT):
        text = FENCE.sub("", page.read_text(encoding="utf-8"))
        for match in LINK.finditer(text):
            target = match["target"]
            if re.match(r"[a-z]+:", target):
                continue  # a URL
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.relative_to(REPO_ROOT)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{page.relative_to(REPO_ROOT)}: {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)
