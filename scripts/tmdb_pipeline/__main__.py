"""`python -m tmdb_pipeline` is the `tmdb` command."""

import sys

from tmdb_pipeline.cli import main

sys.exit(main())
