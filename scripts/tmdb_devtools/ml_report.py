"""`python -m tmdb_devtools ml-report --source <folder>` (`make ml-report REAL_SAMPLE=<folder>`): the model's
figures on a real dataset, for docs/ml.md, measured and never typed.

Runs `tmdb run --source <folder>` in a data root of its own (data/ml-report/, so the user's data folders
are untouched), keeps the model card it published as docs/results/ml-real-sample.json, and renders the
docs' figures from it (tmdb_devtools.figures, block `figures:ml`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tmdb_devtools import figures
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.project import project

log = logging.getLogger(__name__)


def run(source: str | None) -> int:
    if not source:
        raise UserError("Say which real dataset folder to train on: make ml-report REAL_SAMPLE=<folder>.")
    root = project().root
    card = _train_on(Path(source).expanduser().resolve(), root / "data" / "ml-report")
    card.pop("mlflow", None)  # a run id of this machine's store
    card["data"]["dataset"] = os.path.relpath(source, root)  # not this machine's absolute path
    results = root / figures.RESULTS["ml-real-sample"].path
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return figures.run(root, check=False)


def _train_on(source: Path, data_root: Path) -> dict[str, Any]:
    shutil.rmtree(data_root, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMDB_")}
    env["TMDB_DATA_ROOT"] = str(data_root)
    command = [sys.executable, "-m", "tmdb_pipeline", "run", "--source", str(source)]
    done = subprocess.run(command, cwd=project().root, env=env, check=False)
    cards = list({card.resolve() for card in data_root.glob("*/ml/latest/model_card.json")})  # `current` too
    if done.returncode != 0 or len(cards) != 1:
        raise UserError(f"`tmdb run --source {source}` published no model (exit code {done.returncode}).")
    return json.loads(cards[0].read_text(encoding="utf-8"))
