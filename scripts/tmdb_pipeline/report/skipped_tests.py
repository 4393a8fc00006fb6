"""The quiet degraded mode: where dbt-expectations cannot be had, its tests are skipped, and said so in a few
lines (how many, of which kinds, why, how to run them), with the full list written to a file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

LIST_FILE = "skipped-dbt-expectations-tests.txt"  # in dbt's target/ folder
KINDS_SHOWN = 4


def write_list(skipped: list[tuple[str, str]], target_dir: Path) -> Path:
    path = target_dir / LIST_FILE
    target_dir.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{name}\t{kind}\n" for name, kind in skipped), encoding="utf-8")
    return path


def note(skipped: list[tuple[str, str]], why: str, list_file: Path, shown_as: str) -> list[str]:
    """The lines that stand for the full list: count, kinds, reason, where the list is, how to run them."""
    kinds = Counter(kind.removeprefix("expect_") for _, kind in skipped)
    common = ", ".join(f"{count} {kind}" for kind, count in kinds.most_common(KINDS_SHOWN))
    more = f", {len(kinds) - KINDS_SHOWN} other kinds" if len(kinds) > KINDS_SHOWN else ""
    return [
        f"{len(skipped)} dbt-expectations tests were SKIPPED (not run, not counted as passed): {why}.",
        f"  kinds: {common}{more}; the full list: {shown_as}",
        "  to run them: DBT_PACKAGES_MIRROR=<folder with dbt_expectations and dbt_date> make run",
        "  (or where hub.getdbt.com is reachable); see docs/operations.md, 'dbt packages offline'.",
    ]
