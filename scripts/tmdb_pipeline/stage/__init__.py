"""Staging: every file of a dataset folder staged or quarantined, into a new batch of the landing zone.

The steps, one module each: `manifests` (what earlier batches recorded), `scan` (which files are new or
changed), `validate` (one file's verdict), `write` (the workers that read, check and write), `batch` (the run:
lock, folders, the batch made visible whole), `counts` (what a run counts).
"""

from tmdb_pipeline.stage.batch import stage
from tmdb_pipeline.stage.counts import StageResult
from tmdb_pipeline.stage.validate import MAX_DOC_BYTES, REASONS, check_document

__all__ = ["MAX_DOC_BYTES", "REASONS", "StageResult", "check_document", "stage"]
