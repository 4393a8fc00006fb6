"""What a sample is: its size, seed and version, and the defaults."""

from __future__ import annotations

from dataclasses import dataclass

from tmdb_pipeline.errors import UserError

# Bump when the documents generated for the same parameters change, so cached samples are regenerated.
GENERATOR_VERSION = 1
FULL_MOVIES, FULL_SERIES = 526_000, 94_000
DEFAULT_MOVIES, DEFAULT_SERIES = 2_000, 500
DEFAULT_SEED = 42


@dataclass(frozen=True)
class SampleSpec:
    movies: int = DEFAULT_MOVIES
    series: int = DEFAULT_SERIES
    seed: int = DEFAULT_SEED
    version: int = 1

    def label(self) -> str:
        extra = "" if self.version == 1 else f", version {self.version}"
        size = f"{self.movies:,} movies + {self.series:,} series"
        return f"built-in synthetic sample ({size}, seed {self.seed}{extra})"

    def count(self, entity: str) -> int:
        """How many titles of an entity this version has: version 2 adds about 1% new ones."""
        base = self.movies if entity == "movies" else self.series
        return base if self.version == 1 else base + max(1, base // 100)


def parse_size(size: str | int) -> tuple[int, int]:
    """`full` is the real dataset's size; a number N means N movies and N/4 series."""
    if isinstance(size, str) and size.strip().lower() == "full":
        return FULL_MOVIES, FULL_SERIES
    try:
        movies = int(str(size).replace(",", "").replace("_", ""))
    except ValueError:
        movies = 0
    if movies < 1:
        raise UserError(
            f"Sample size {size!r} is not valid: give a positive number of movies (series are a quarter "
            f"of that), e.g. 2000, or `full` for the real dataset's size ({FULL_MOVIES:,} movies + "
            f"{FULL_SERIES:,} series)."
        )
    return movies, max(1, movies // 4)
