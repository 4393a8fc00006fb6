"""dbt's artifacts of one run, read once after it: run_results.json, sources.json and the manifest's nodes.

Reading them afterwards replaces Elementary's per-node hooks (which add a query per node to every run): the
files are already on disk when dbt exits, and a few hundred results parse in milliseconds.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tmdb_pipeline.errors import UserError

RUN_RESULTS = "run_results.json"
SOURCES = "sources.json"
MANIFEST = "manifest.json"


class ArtifactsError(UserError):
    """dbt left no run results to record (it stopped before running anything, or they were removed)."""


@dataclass
class Artifacts:
    run_results: dict[str, Any]
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # the manifest's nodes, by unique id
    sources: dict[str, Any] | None = None  # sources.json of the same run, when freshness ran

    @property
    def invocation_id(self) -> str:
        return str(self.run_results.get("metadata", {}).get("invocation_id") or "")

    @property
    def generated_at(self) -> dt.datetime | None:
        return timestamp(self.run_results.get("metadata", {}).get("generated_at"))

    @property
    def dbt_version(self) -> str:
        return str(self.run_results.get("metadata", {}).get("dbt_version") or "")

    @property
    def command(self) -> str:
        return str(self.run_results.get("args", {}).get("which") or "")

    @property
    def results(self) -> list[dict[str, Any]]:
        return list(self.run_results.get("results") or [])


def read(target_dir: Path, sources_file: Path | None = None) -> Artifacts:
    """The artifacts dbt left in a target folder. The manifest and sources.json are optional extras."""
    path = target_dir / RUN_RESULTS
    run_results = _json(path)
    if run_results is None:
        raise ArtifactsError(
            f"There are no dbt run results to record in {target_dir} ({RUN_RESULTS} is missing or not JSON):"
            " dbt did not run, or its target folder was cleaned. Run the pipeline (`make run`) again."
        )
    manifest = _json(target_dir / MANIFEST) or {}
    found = Artifacts(run_results=run_results, nodes=dict(manifest.get("nodes") or {}))
    sources = _json(sources_file or target_dir / SOURCES)
    if sources is not None:
        found.sources = sources
    return found


def _json(path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def timestamp(value: Any) -> dt.datetime | None:
    """dbt's ISO times (with or without Z) as naive UTC datetimes."""
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def timing(result: dict[str, Any], step: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    for item in result.get("timing") or []:
        if item.get("name") == step:
            return timestamp(item.get("started_at")), timestamp(item.get("completed_at"))
    return None, None


def duration_s(after: dict[str, Any] | None) -> float | None:
    """A freshness criterion ({count, period}) in seconds."""
    if not after or after.get("count") is None or not after.get("period"):
        return None
    seconds = {"minute": 60, "hour": 3600, "day": 86400}.get(str(after["period"]))
    return float(after["count"]) * seconds if seconds else None
