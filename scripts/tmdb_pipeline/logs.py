"""Where the pipeline's messages go: every module logs to its own logger (`logging.getLogger(__name__)`), and
the command that runs it (`tmdb`, `python -m tmdb_pipeline.one_writer`) sends them, as plain lines, to one
stream.

That stream is standard output, in order with what the command prints (the summary), except for the commands
that answer an orchestrator with one JSON line on standard output: their messages go to standard error.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

PACKAGE = "tmdb_pipeline"


class _ConsoleHandler(logging.Handler):
    """Each message alone on its line, flushed at once. The stream is looked up when a message is written,
    not when the handler is made: a test's capture, or a command's own redirection, sees every line."""

    def __init__(self, stream: Literal["stdout", "stderr"]) -> None:
        super().__init__(logging.INFO)
        self.to_stderr = stream == "stderr"
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr if self.to_stderr else sys.stdout
            stream.write(self.format(record) + "\n")
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: logging's own report of it
            self.handleError(record)


def configure(stream: Literal["stdout", "stderr"] = "stdout") -> None:
    """Send the pipeline's messages (INFO and above), message only, to `stream`; called again, it replaces
    the handler it installed before. Records still propagate to the root logger, where nothing listens in a
    command, so that pytest's `caplog` (or an application embedding the pipeline) sees them too."""
    logger = logging.getLogger(PACKAGE)
    for handler in [h for h in logger.handlers if isinstance(h, _ConsoleHandler)]:
        logger.removeHandler(handler)
    logger.addHandler(_ConsoleHandler(stream))
    logger.setLevel(logging.INFO)
