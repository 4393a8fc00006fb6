"""dbt for an orchestrator's tasks: one dbt process at a time on a data folder's warehouse.

In the Airflow DAG one `dbt build` (Cosmos's producer) writes the warehouse, and the per-node tasks only read
its results. They run dbt themselves only as Cosmos's fallback (a task retried or cleared, a producer that
died before reaching their node), and they run beside one another. So every dbt the DAG starts comes here
first: `tmdb render-dbt` points Cosmos at a script that runs this module, which waits for the data folder's
dbt lock and then becomes dbt, holding the lock until dbt ends. DuckDB allows one writer per file: a second
dbt waits its turn instead of failing on DuckDB's lock.

    python -m tmdb_pipeline.one_writer <dbt executable> <dbt arguments...>
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from tmdb_pipeline import locks, logs
from tmdb_pipeline.errors import UserError

LOCK_NAME = ".dbt.lock"


def exec_dbt(dbt: str, args: Sequence[str]) -> NoReturn:
    """Wait for the dbt lock of the data folder in TMDB_DATA_DIR, then become `dbt args...`."""
    data_dir = os.environ.get("TMDB_DATA_DIR")
    if not data_dir or not Path(data_dir).is_dir():
        found = "not set" if not data_dir else f"{data_dir}, not a folder"
        raise UserError(
            f"TMDB_DATA_DIR is {found}: dbt runs here for one data folder's warehouse, one process at a "
            "time, and the lock is in that folder. The DAG sets it from build_needed's answer."
        )
    locks.hold_across_exec(
        Path(data_dir) / LOCK_NAME,
        what=f"the warehouse of {data_dir} (one dbt at a time)",
    )
    try:
        os.execv(dbt, [dbt, *args])
    except OSError as exc:  # the dbt executable is missing or not executable
        raise UserError(
            f"Cannot run {dbt} ({exc.strerror}): run `make venv`, then `tmdb render-dbt`."
        ) from exc


def main(argv: Sequence[str]) -> int:
    if not argv:
        print("usage: python -m tmdb_pipeline.one_writer <dbt executable> [dbt arguments]", file=sys.stderr)
        return 2
    logs.configure("stderr")  # standard output is dbt's
    try:
        exec_dbt(argv[0], argv[1:])
    except UserError as exc:
        print(exc, file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
