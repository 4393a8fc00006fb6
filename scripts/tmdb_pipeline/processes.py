"""Processes: one way to start workers, and one way to ask whether a process is still there, everywhere in
the package."""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.context import BaseContext


def mp_context() -> BaseContext:
    """fork where the platform has it: workers inherit the parent's large read-only lists instead of having
    them pickled, and start in milliseconds. Elsewhere the platform's default."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else methods[0])


def is_alive(pid: int) -> bool:
    """Whether a process of this id exists (one of another user's counts: it cannot be signalled, but is)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
