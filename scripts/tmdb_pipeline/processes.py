"""Worker processes: one way to start them, everywhere in the package."""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import BaseContext


def mp_context() -> BaseContext:
    """fork where the platform has it: workers inherit the parent's large read-only lists instead of having
    them pickled, and start in milliseconds. Elsewhere the platform's default."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else methods[0])
