"""`python -m tmdb_devtools figures` (`make figures`): every measured figure of README.md, CONTRIBUTING.md and
docs/ is rendered here, from the results file of the command that measured it, between
`<!-- figures:<key>:start -->` and `<!-- figures:<key>:end -->`. Nobody types a measured figure into prose, so
a figure on a page is as current as its results file, and `--check` (exit 1) finds a block left stale.

To add figures: name the results file and the command that writes it in `RESULTS` (once per file), then

    @renderer("ml-metrics", results="ml")
    def ml_metrics(results: dict[str, Any]) -> str:
        return f"| metric | value |\\n| --- | ---: |\\n| MAE | {results['mae']:,.0f} |"

and put `<!-- figures:ml-metrics:start --><!-- figures:ml-metrics:end -->` where the figures go. A block
whose content has no line break stays inline (a figure in a sentence); otherwise it gets lines of its own.

A decision record quotes the figures of its date inside `<!-- figures:as-measured:<YYYY-MM-DD>:start -->`:
a frozen record of what was measured then, left as written (tests/python/test_docs.py accepts it as such).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tmdb_devtools.bench import report as bench_report
from tmdb_pipeline.errors import UserError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Results:
    path: str  # relative to the project's root
    command: str  # what measures them and writes the file


RESULTS: dict[str, Results] = {
    "bench": Results("docs/performance.json", "make bench"),
    "ml-real-sample": Results("docs/results/ml-real-sample.json", "make ml-report REAL_SAMPLE=<folder>"),
    "faults": Results("docs/results/faults.json", "make faults"),
    "growth": Results("docs/results/growth.json", "make bench-growth"),
}

Render = Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class Renderer:
    results: str
    render: Render


RENDERERS: dict[str, Renderer] = {}

HISTORICAL = "as-measured:"
BLOCK = re.compile(
    r"<!-- figures:(?P<key>[\w.:-]+):start -->(?P<body>.*?)<!-- figures:(?P=key):end -->", re.DOTALL
)
HISTORICAL_KEY = re.compile(r"as-measured:\d{4}-\d{2}-\d{2}")


def renderer(key: str, results: str) -> Callable[[Render], Render]:
    """Register `render` as the figures of block `key`, computed from the results file named `results`."""
    if results not in RESULTS:
        raise ValueError(f"renderer {key!r}: no results file named {results!r} in RESULTS")

    def register(render: Render) -> Render:
        if key in RENDERERS or key.startswith(HISTORICAL):
            raise ValueError(f"renderer key {key!r} is taken")
        RENDERERS[key] = Renderer(results, render)
        return render

    return register


def markers(key: str) -> tuple[str, str]:
    return f"<!-- figures:{key}:start -->", f"<!-- figures:{key}:end -->"


def documents(root: Path) -> list[Path]:
    """The pages whose figures are rendered (and whose typed figures tests/python/test_docs.py refuses)."""
    pages = [root / "README.md", root / "CONTRIBUTING.md", *sorted((root / "docs").rglob("*.md"))]
    return [page for page in pages if page.is_file()]


def load_results(root: Path) -> dict[str, dict[str, Any] | None]:
    """Every results file, or None where its command has not written it yet."""
    loaded: dict[str, dict[str, Any] | None] = {}
    for name, results in RESULTS.items():
        path = root / results.path
        try:
            loaded[name] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        except json.JSONDecodeError as error:
            raise UserError(
                f"{results.path} is not valid JSON ({error}): run `{results.command}` again."
            ) from None
    return loaded


def render_text(text: str, results: Mapping[str, dict[str, Any] | None], where: str = "") -> str:
    """`text` with every block whose results are in `results` rendered again; other blocks as they are."""

    def render(match: re.Match[str]) -> str:
        key = match["key"]
        if key.startswith(HISTORICAL):
            if not HISTORICAL_KEY.fullmatch(key):
                raise UserError(
                    f"{where}: a historical block is `figures:as-measured:<YYYY-MM-DD>`, not {key!r}."
                )
            return match[0]
        entry = RENDERERS.get(key)
        if entry is None:
            raise UserError(
                f"{where}: no renderer for the block `figures:{key}`; known: {', '.join(sorted(RENDERERS))} "
                "(add one in scripts/tmdb_devtools/figures.py)."
            )
        if entry.results not in results:
            return match[0]
        data, source = results[entry.results], RESULTS[entry.results]
        body = (
            entry.render(data)
            if data is not None
            else f"*Not measured yet: `{source.command}` writes {source.path}.*"
        ).strip("\n")
        start, end = markers(key)
        if "\n" in body or "\n" in match["body"]:
            return f"{start}\n{body}\n{end}"
        return f"{start}{body}{end}"

    return BLOCK.sub(render, text)


def render_file(path: Path, results: Mapping[str, dict[str, Any] | None], check: bool = False) -> bool:
    """Render the blocks of one page; True when they were stale (rewritten unless `check`)."""
    text = path.read_text(encoding="utf-8")
    new = render_text(text, results, str(path))
    if new == text:
        return False
    if not check:
        path.write_text(new, encoding="utf-8")
    return True


def render_all(root: Path, check: bool = False) -> list[Path]:
    """Render every page's blocks from the results files; the pages that were stale."""
    results = load_results(root)
    return [page for page in documents(root) if render_file(page, results, check)]


def run(root: Path, check: bool) -> int:
    stale = render_all(root, check)
    for page in stale:
        shown = page.relative_to(root)
        if check:
            log.error("%s: figures are stale; run `make figures` (python -m tmdb_devtools figures)", shown)
        else:
            log.info("rendered %s", shown)
    if not stale:
        log.info("every figures block is current")
    return 1 if check and stale else 0


# --- typed figures: what tests/python/test_docs.py refuses outside a block ---------------------------------

# A measured figure as prose types it: a duration (12.3 s, 38 s, ~3 min, 37-49 s, 6 min 43 s), a ratio (2.26x,
# and the same with a multiplication sign) or a percentage (97 %). Sizes and counts are not looked for (a
# sample's 2,000 movies is a setting).
FIGURE = re.compile(
    r"(?<![\w.$/-])(?!1[89]\d0s\b|20\d0s\b)~?\d+(?:[.,]\d+)*(?:\s*(?:-|–|to)\s*~?\d+(?:[.,]\d+)*)?\s*"
    r"(?:(?:ms|µs|us|s|secs?|seconds?|mins?|minutes?|h|hours?)\b|[x×](?!\w)|%)"
)
# A setting or a goal is not a measurement: it is written right after one of these, so that a reader (and the
# test) can tell it from one: `timeout of 1 h`, `every 50 ms`, `default 60 s`, `at most 30 min`, `at least
# 5 %`, `warn after 26 h`, `<= 60 s`.
SETTING = re.compile(
    r"(?:<=|>=|≤|≥|<|>|\btimeout(?: of)?|\bevery|\bdefault(?: of| is)?|\bat (?:most|least)|\bafter)\s*$", re.I
)


def _without_blocks(text: str) -> str:
    # blocks (rendered or historical) are blanked, line breaks kept, so line numbers stay those of the page
    return BLOCK.sub(lambda m: "\n" * m[0].count("\n"), text)


def typed_figures(text: str) -> list[tuple[int, str, str]]:
    """(line number, figure, line) of every measured figure typed outside a block."""
    found = []
    for number, line in enumerate(_without_blocks(text).splitlines(), 1):
        for match in FIGURE.finditer(line):
            before = line[: match.start()].rstrip(" *`(")
            if not SETTING.search(before):
                found.append((number, match[0], line.strip()))
    return found


# --- the benchmark: docs/performance.json, written by `make bench` ------------------------------------------


@renderer("bench-results", results="bench")
def bench_results(result: dict[str, Any]) -> str:
    return bench_report.render_results(result)


@renderer("bench-headline", results="bench")
def bench_headline(result: dict[str, Any]) -> str:
    target = result["targets"]["files_to_tested_marts_s"]
    if target["value"] is None:
        return f"not measured in the run of {result['generated_at']}"
    return (
        f"{target['value']:.0f} s from files to tested marts at full size "
        f"(goal {target['op']} {target['limit']:.0f} s; `make bench`, {result['generated_at']})"
    )


GATE_TIME = re.compile(r"^(?P<gate>[a-z][a-z -]*?) (?P<seconds>\d+(?:\.\d+)?) s$")


def gate_times(result: dict[str, Any]) -> dict[str, float]:
    """Each gate's time in the benchmark's `make_test` step (a fresh clone), from the step's note."""
    step = next((s for s in result["steps"] if s["name"] == "make_test"), None)
    if step is None or ": " not in step["note"]:
        return {}
    times = {}
    for part in step["note"].split(": ", 1)[1].split(", "):
        match = GATE_TIME.match(part.strip())
        if match:
            times[match["gate"]] = float(match["seconds"])
    return times


@renderer("gate-times", results="bench")
def gate_times_table(result: dict[str, Any]) -> str:
    times = gate_times(result)
    step = next((s for s in result["steps"] if s["name"] == "make_test"), None)
    if not times or step is None:
        return f"*The benchmark of {result['generated_at']} did not time `make test` (`make bench`).*"
    what = step["note"].split(": ", 1)[0]
    lines = [
        f"Each gate's time in `make bench`'s `make_test` step ({result['generated_at']}; {what}): "
        f"{step['wall_s']:.0f} s in all{'' if step['ok'] else ' (failed)'}, installs included; the gates "
        "of the second lane ran beside the others.",
        "",
        "| gate | s |",
        "| --- | ---: |",
        *(f"| {gate} | {seconds:.1f} |" for gate, seconds in times.items()),
    ]
    return "\n".join(lines)


# --- the box-office model on the real sample: docs/results/ml-real-sample.json, `make ml-report` ---------

MODEL_NAMES = {
    "mean_baseline": "mean baseline",
    "budget_linear": "budget-only linear (logs)",
    "gradient_boosting": "gradient boosting",
}


@renderer("ml", results="ml-real-sample")
def ml_model(card: dict[str, Any]) -> str:
    """docs/ml.md: the model against its baselines on the real sample, from the card it published."""
    rows, split, metrics = card["rows"], card["split"], card["metrics"]
    lines = [
        f"Generated by `make ml-report` from `{RESULTS['ml-real-sample'].path}` (data:"
        f" {card['data']['dataset']}, published version {card['data']['version']};"
        f" scikit-learn {card['versions']['scikit-learn']}).",
        "",
        f"Movies: {rows['movies']:,}; with a known revenue and release date: {rows['labelled']:,};"
        f" train {rows['train']:,} (released {split['train_first']} to {split['train_last']}), test"
        f" {rows['test']:,} ({split['test_first']} to {split['test_last']}).",
        "",
        "| model | RMSLE | 95 % interval | RMSLE minus the mean's, 95 % | MAE (log) | R² |",
        "|---|---|---|---|---|---|",
    ]
    for name, model in metrics["models"].items():
        low, high = model["rmsle_ci95"]
        d_low, d_high = model["rmsle_minus_mean_ci95"]
        lines.append(
            f"| {MODEL_NAMES.get(name, name)} | {model['rmsle']:.3f} | {low:.3f} – {high:.3f} |"
            f" {d_low:+.3f} – {d_high:+.3f} | {model['mae_log']:.3f} | {model['r2']:.3f} |"
        )
    clears = "clears" if metrics["clears_baseline"] else "does not clear"
    paired = "lies below 0" if metrics["beats_baseline_paired"] else "does not lie below 0"
    top = ", ".join(f"{r['feature']} ({r['rmsle_increase']:.3f})" for r in metrics["importance"][:5])
    lines += [
        "",
        f"The gradient-boosted model's interval {clears} the mean baseline's; the paired interval of its"
        f" RMSLE minus the baseline's {paired}. Most important features (RMSLE lost when shuffled): {top}.",
    ]
    return "\n".join(lines)


# --- the fault campaign: docs/results/faults.json, `make faults` ------------------------------------------


@renderer("faults", results="faults")
def faults_campaign(results: dict[str, Any]) -> str:
    from tmdb_devtools import faults

    return faults.render_markdown(results)


# --- the growth curve: docs/results/growth.json, `make bench-growth` --------------------------------------


@renderer("growth", results="growth")
def growth_curve(results: dict[str, Any]) -> str:
    from tmdb_devtools.bench import growth

    chart = "\n\n![make run's time and memory against the number of files](images/growth.png)"
    return growth.render_markdown(results) + chart
