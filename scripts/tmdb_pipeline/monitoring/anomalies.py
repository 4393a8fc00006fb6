"""Volume and schema anomalies: each table's size against its own history, each published mart's columns
against the previous publish.

Volume: a table's count (rows of a model, files seen per entity in the source) is compared with the run
before it. The expected run-over-run change is learned from the table's own history: the median of its past
relative changes, plus or minus k times their MAD (scaled to a standard deviation), never narrower than
MIN_BAND. A table that grows by about 1 % a day keeps a band around +1 %; a table that never changes keeps
+-MIN_BAND; a 30 % drop is outside both. Until FIRST_RUNS changes are known, the band is +-FIRST_RUNS_BAND
around the last value.

Schema: a published mart whose columns were added, removed or retyped since the previous publish, or a
mart that disappeared. Both warn; neither fails the run.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

K = 3.0  # how many (scaled) MADs away from the median change is an anomaly
MAD_TO_SD = 1.4826  # MAD of a normal distribution times this is its standard deviation
MIN_BAND = 0.05  # never flag a relative change within +-5 %
FIRST_RUNS = 3  # past changes needed before the band is learned
FIRST_RUNS_BAND = 0.20  # until then: +-20 % of the last value
WINDOW = 30  # past values considered


@dataclass(frozen=True)
class Anomaly:
    kind: str  # volume | schema | freshness
    relation: str
    detail: str
    severity: str = "warn"
    column: str | None = None
    observed: float | None = None
    expected_low: float | None = None
    expected_high: float | None = None

    def __str__(self) -> str:
        return f"{self.kind} {self.relation}{f'.{self.column}' if self.column else ''}: {self.detail}"


def volume_band(past: Sequence[float]) -> tuple[float, float] | None:
    """The expected range of the next value after `past` (oldest first), or None with no past at all."""
    values = [float(v) for v in past[-WINDOW:]]
    if not values:
        return None
    last = values[-1]
    changes = [b / a - 1.0 for a, b in itertools.pairwise(values) if a > 0]
    if len(changes) < FIRST_RUNS:
        low, high = -FIRST_RUNS_BAND, FIRST_RUNS_BAND
    else:
        median = statistics.median(changes)
        spread = statistics.median(abs(c - median) for c in changes) * MAD_TO_SD
        half = max(K * spread, MIN_BAND)
        low, high = median - half, median + half
    return last * (1.0 + low), last * (1.0 + high)


def volume(
    current: Mapping[str, float], past: Mapping[str, Sequence[float]], what: str = "rows"
) -> list[Anomaly]:
    """Tables whose count now is outside the band learned from their past counts."""
    found = []
    for table, value in sorted(current.items()):
        band = volume_band(past.get(table, ()))
        if band is None:
            continue
        low, high = band
        # a band that rounds to the last value itself would flag a change of one row in a tiny table
        if low - 0.5 <= value <= high + 0.5:
            continue
        last = float(past[table][-1])
        change = f"{value / last - 1.0:+.0%}" if last else "from none"
        found.append(
            Anomaly(
                "volume",
                table,
                f"{value:,.0f} {what}, {change} on the last run; expected {low:,.0f} to {high:,.0f}",
                observed=float(value),
                expected_low=low,
                expected_high=high,
            )
        )
    return found


def schema(
    previous: Mapping[str, Mapping[str, str]], current: Mapping[str, Mapping[str, str]]
) -> list[Anomaly]:
    """Columns added, removed or retyped per published relation ({relation: {column: type}})."""
    found = []
    for relation in sorted(set(previous) | set(current)):
        before, after = previous.get(relation), current.get(relation)
        if before is None:
            continue  # a new mart: nothing to compare with
        if after is None:
            found.append(Anomaly("schema", relation, "no longer published"))
            continue
        for column in before:
            if column not in after:
                found.append(
                    Anomaly("schema", relation, f"column removed (was {before[column]})", column=column)
                )
            elif after[column] != before[column]:
                found.append(
                    Anomaly("schema", relation, f"retyped {before[column]} -> {after[column]}", column=column)
                )
        for column in after:
            if column not in before:
                found.append(Anomaly("schema", relation, f"column added ({after[column]})", column=column))
    return found
