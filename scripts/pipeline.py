#!/usr/bin/env python3
"""Entry point for `make run|stage|build|test|docs|bench`: see `python scripts/pipeline.py --help`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tmdb_pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main())
