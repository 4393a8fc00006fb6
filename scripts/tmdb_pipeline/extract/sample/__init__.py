"""The built-in synthetic sample: a deterministic, offline stand-in for the Kaggle dataset (invented titles in
the real files' shape). `tmdb sample --out DIR` writes one; `SOURCE=sample` generates it into a kagglehub
cache of its own, so an offline run takes the same path through kagglehub as a Kaggle run."""

from tmdb_pipeline.extract.sample.documents import make_doc, movie_id, series_id
from tmdb_pipeline.extract.sample.files import (
    PARAMS_FILE,
    GenerateStats,
    cached_spec,
    ensure_in_kagglehub_cache,
    generate,
    write,
)
from tmdb_pipeline.extract.sample.spec import (
    DEFAULT_MOVIES,
    DEFAULT_SEED,
    DEFAULT_SERIES,
    FULL_MOVIES,
    FULL_SERIES,
    SampleSpec,
    parse_size,
)

__all__ = [
    "DEFAULT_MOVIES",
    "DEFAULT_SEED",
    "DEFAULT_SERIES",
    "FULL_MOVIES",
    "FULL_SERIES",
    "PARAMS_FILE",
    "GenerateStats",
    "SampleSpec",
    "cached_spec",
    "ensure_in_kagglehub_cache",
    "generate",
    "make_doc",
    "movie_id",
    "parse_size",
    "series_id",
    "write",
]
