"""Extract, stage and build the TMDB warehouse: the Python half of the project (dbt is the other)."""

KAGGLE_HANDLE = "edgartanaka1/tmdb-movies-and-series"
KAGGLE_VERSION = 1
ENTITIES = ("movies", "series")
