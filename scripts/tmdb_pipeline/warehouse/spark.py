"""The Apache Spark target (`--target spark`): what a dbt run on Spark needs before it starts.

dbt-spark's `session` method runs Spark inside the dbt process (pyspark, local[2]). Its catalog (the Hive
metastore, an embedded Derby database) and its tables live under `<data dir>/spark/`, beside the DuckDB
warehouse of the same data, so a run from any working directory finds the previous run's tables.
profiles.yml reads the paths from TMDB_SPARK_DIR / TMDB_LANDING_DIR, which the data folder hands dbt as
absolute paths.

Embedded Derby admits one process at a time. A second Spark process on the same data folder (another dbt
run, a pyspark shell) would fail deep inside Hive with "Another instance of Derby may have already booted
the database"; `prepare` checks the metastore's lock first and says who holds it, and `failure_hint`
recognises the collision in dbt's log when it happened anyway (both started at once).
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tmdb_pipeline.errors import LockedError, UserError
from tmdb_pipeline.locks import posix_lock_holder
from tmdb_pipeline.workspace import Workspace

INSTALL_HINT = "make venv-spark (or: .venv/bin/pip install --require-hashes -r requirements/spark.txt)"
# log4j2.properties that keeps Spark's per-statement warnings out of dbt's output (SPARK_CONF_DIR).
CONF_DIR = Path(__file__).resolve().with_name("spark_conf")
MIN_JAVA = 17  # Spark 4
DERBY_COLLISION = "Another instance of Derby may have already booted the database"


class Spark:
    name = "spark"

    def prepare(self, workspace: Workspace) -> None:
        ensure_staged(workspace)
        reason = unavailable_reason()
        if reason:
            raise UserError(f"Cannot build on Spark: {reason}. DuckDB, the default target, needs neither.")
        ensure_metastore_free(workspace)
        workspace.spark_dir.mkdir(parents=True, exist_ok=True)

    def env(self, workspace: Workspace) -> dict[str, str]:
        return {
            "SPARK_CONF_DIR": str(CONF_DIR),
            # The Python workers Spark may start must be this interpreter, not whatever `python3` is on PATH.
            "PYSPARK_PYTHON": sys.executable,
            # pyspark warns on import about pandas versions it has not been tested with; dbt-spark has no use
            # for pandas.
            "PYTHONWARNINGS": ",".join(
                filter(
                    None,
                    [
                        os.environ.get("PYTHONWARNINGS"),
                        "ignore:PySpark does not yet fully support:FutureWarning",
                    ],
                )
            ),
        }

    def state(self, workspace: Workspace) -> list[Any]:
        """The table folders: a dropped table or a deleted catalog means a build."""
        root = workspace.spark_dir
        if not metastore_dir(workspace).is_dir():
            return []
        return sorted(str(p.relative_to(root)) for p in root.glob("warehouse/*/*") if p.is_dir())

    def failure_hint(self, workspace: Workspace, build_log: str) -> str | None:
        """The collision message when this run's part of dbt's log shows it lost the metastore to another."""
        return collision_message(workspace) if DERBY_COLLISION in build_log else None

    def warehouse_label(self, workspace: Workspace) -> str:
        return (
            f"{workspace.spark_dir / 'warehouse'} (Spark tables; catalog in {metastore_dir(workspace).name}/)"
        )


def metastore_dir(workspace: Workspace) -> Path:
    return workspace.spark_dir / "metastore_db"


def missing_packages() -> list[str]:
    """The Spark extra's Python packages that this interpreter cannot import."""
    wanted = {"pyspark": "pyspark", "dbt-spark": "dbt.adapters.spark"}
    missing = []
    for name, module in wanted.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(name)
    return missing


def java_executable() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def java_major_version(java: str) -> int | None:
    """17 for 'openjdk version "17.0.15"', 8 for 'java version "1.8.0_392"'; None when unreadable."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def unavailable_reason() -> str | None:
    """Why Spark cannot run in this environment (packages or Java missing), or None when it can."""
    missing = missing_packages()
    if missing:
        return f"the Spark extra is not installed ({', '.join(missing)} missing): run `{INSTALL_HINT}`"
    java = java_executable()
    major = java_major_version(java) if java else None
    if major is None or major < MIN_JAVA:
        found = f"{java}, version {major or 'unknown'}" if java else "no `java` on PATH and no JAVA_HOME"
        return (
            f"Spark needs Java {MIN_JAVA} or newer (found: {found}); Debian/Ubuntu: "
            "`apt-get install openjdk-17-jre-headless`, or point JAVA_HOME at one"
        )
    return None


def ensure_metastore_free(workspace: Workspace) -> None:
    """Fail at once, naming the holder, when another process has this data folder's Spark metastore open.

    Derby holds an exclusive POSIX lock on metastore_db/dbex.lck while a process has the database booted; a
    lock left by a process that died is released with it, so a stale lock file is never taken for a live one.
    """
    lock_file = metastore_dir(workspace) / "dbex.lck"
    if not lock_file.exists():
        return
    try:
        fd = os.open(lock_file, os.O_RDWR)
    except OSError:
        return
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise LockedError(collision_message(workspace, posix_lock_holder(lock_file))) from None
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def collision_message(workspace: Workspace, holder: str = "another process") -> str:
    return (
        f"The Spark metastore {metastore_dir(workspace)} is in use by {holder}: a dbt run on the spark "
        "target, a pyspark shell or a notebook on the same data folder. Spark's embedded metastore (Derby) "
        "admits one process at a time. Wait for that process to finish, or stop it, then run again. Nothing "
        "was changed by this run."
    )


def ensure_staged(workspace: Workspace) -> None:
    """Spark declares its landing tables over the landing folder before any model runs, and fails with a Java
    FileNotFoundException when there is none: say what to do instead."""
    if not workspace.batches():
        raise UserError(
            f"Nothing staged: no batch in the landing zone {workspace.landing}. Run `make stage` (or "
            "`make run`) first; `make stage SOURCE=sample` works offline."
        )
