"""Get the TMDB dataset, stage it into a landing zone, and build the dbt warehouse from it: the Python half of
the project (dbt is the other). `tmdb --help` lists the commands; docs/architecture.md maps the modules.

The flow, one subpackage each: `extract` (where the files come from), `stage` (files -> landing zone),
`warehouse` (dbt on the landing zone, the build stamp, publishing), `report` (the run's summary). Shared by
all: `workspace` (one data folder), `landing_zone` (its layout and contract), `project`, `locks`, `errors`.
The contributors' tooling (the quality gates, the benchmark) is not part of it: scripts/tmdb_devtools.
"""

KAGGLE_HANDLE = "edgartanaka1/tmdb-movies-and-series"
KAGGLE_VERSION = 1
ENTITIES = ("movies", "series")
# The dataset's layout: every document is <dataset folder>/<subfolder>/<file>.json.
SUBFOLDERS = {"movies": "movies/movies", "series": "series/series"}
