"""Errors that are the user's to fix: printed as a short paragraph, never as a traceback."""


class UserError(Exception):
    """Something the user can act on. The message says what happened and what to do."""

    exit_code = 2


class LockedError(UserError):
    """Another run holds a lock this run needs."""

    exit_code = 3
