"""Getting the data: the Kaggle dataset through kagglehub, the built-in synthetic sample, or a folder."""

from tmdb_pipeline.extract.sources import Dataset, check_dataset_folder, resolve_source

__all__ = ["Dataset", "check_dataset_folder", "resolve_source"]
