"""What a staging run counts: per entity, files seen, staged, quarantined and unchanged."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tmdb_pipeline import ENTITIES
from tmdb_pipeline.stage.validate import REASONS


@dataclass
class StageResult:
    batch_id: str | None  # None when nothing was new (no batch written)
    landing_dir: Path
    seen: dict[str, int]
    staged: dict[str, int]
    quarantined: dict[str, int]
    unchanged: dict[str, int]
    reasons: dict[str, int]  # quarantine reason -> count
    elapsed_s: float
    # of the unchanged files, those whose latest verdict was quarantine
    still_quarantined: dict[str, int] = field(default_factory=dict)
    bytes_read: int = 0


@dataclass
class Tally:
    seen: Counter[str] = field(default_factory=Counter)
    staged: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    still_quarantined: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    bytes_read: int = 0
    # files read again because their mtime changed, found identical: (source_file, size, mtime_ns, sha256)
    verified: list[tuple[str, int, int, str]] = field(default_factory=list)

    def merge(self, other: Tally) -> None:
        for name in ("seen", "staged", "quarantined", "unchanged", "still_quarantined", "reasons"):
            getattr(self, name).update(getattr(other, name))
        self.bytes_read += other.bytes_read
        self.verified += other.verified

    def new_files(self) -> int:
        return sum(self.staged.values()) + sum(self.quarantined.values())

    def result(self, batch_id: str | None, landing_dir: Path, elapsed: float) -> StageResult:
        def per_entity(counter: Counter[str]) -> dict[str, int]:
            return {entity: counter[entity] for entity in ENTITIES}

        return StageResult(
            batch_id=batch_id,
            landing_dir=landing_dir,
            seen=per_entity(self.seen),
            staged=per_entity(self.staged),
            quarantined=per_entity(self.quarantined),
            unchanged=per_entity(self.unchanged),
            reasons={reason: self.reasons[reason] for reason in REASONS if self.reasons[reason]},
            elapsed_s=round(elapsed, 3),
            still_quarantined=per_entity(self.still_quarantined),
            bytes_read=self.bytes_read,
        )
