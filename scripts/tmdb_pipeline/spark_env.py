"""The Apache Spark target (`--target spark`): what a dbt run on Spark needs before it starts.

dbt-spark's `session` method runs Spark inside the dbt process (pyspark, local[2]). Its catalog (the Hive
metastore, an embedded Derby database) and its tables live under `<data dir>/spark/`, beside the DuckDB
warehouse of the same data, so a run from any working directory finds the previous run's tables.
profiles.yml reads the paths from TMDB_SPARK_DIR / TMDB_LANDING_DIR, which `prepare` sets to absolute paths.

Embedded Derby admits one process at a time. A second Spark process on the same data folder (another
dbt run, a pyspark shell) would fail deep inside Hive with "Another instance of Derby may have already
booted the database"; `prepare` checks the metastore's lock first and says who holds it, and
`failure_hint` recognises the collision in dbt's log when it happened anyway (both started at once).
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tmdb_pipeline import paths
from tmdb_pipeline.errors import LockedError, UserError

REQUIREMENTS = paths.REPO_ROOT / "requirements-spark.txt"
# log4j2.properties that keeps Spark's per-statement warnings out of dbt's output (SPARK_CONF_DIR).
CONF_DIR = Path(__file__).resolve().with_name("spark_conf")
MIN_JAVA = 17  # Spark 4
DERBY_COLLISION = "Another instance of Derby may have already booted the database"

Announce = Callable[[str], None]


def spark_dir(data_dir: Path) -> Path:
    """Where the Spark target keeps its metastore and tables for this data folder."""
    override = os.environ.get("TMDB_SPARK_DIR")
    return Path(override).expanduser().resolve() if override else data_dir.resolve() / "spark"


def metastore_dir(data_dir: Path) -> Path:
    return spark_dir(data_dir) / "metastore_db"


def spark_env(data_dir: Path) -> dict[str, str]:
    """Environment variables for a dbt run on the spark target: absolute paths, quiet Spark logs."""
    return {
        "TMDB_DATA_DIR": str(data_dir.resolve()),
        "TMDB_SPARK_DIR": str(spark_dir(data_dir)),
        "TMDB_LANDING_DIR": str(paths.landing_dir(data_dir).expanduser().resolve()),
        "SPARK_CONF_DIR": str(CONF_DIR),
        # The Python workers Spark may start must be this interpreter, not whatever `python3` is on PATH.
        "PYSPARK_PYTHON": sys.executable,
        # pyspark warns on import about pandas versions it was not tested with; dbt-spark never uses pandas.
        "PYTHONWARNINGS": ",".join(
            filter(
                None,
                [os.environ.get("PYTHONWARNINGS"), "ignore:PySpark does not yet fully support:FutureWarning"],
            )
        ),
    }


def missing_packages() -> list[str]:
    """The Python packages of requirements-spark.txt that this interpreter cannot import."""
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


def ensure_installed(announce: Announce = print) -> None:
    """Install requirements-spark.txt into this interpreter's environment when it is not there yet."""
    missing = missing_packages()
    if not missing:
        return
    announce(
        f"Spark target: installing {REQUIREMENTS.name} ({', '.join(missing)} missing; about 630 MB, "
        "once per virtualenv) ..."
    )
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
        check=False,
        capture_output=True,
        text=True,
    )
    importlib.invalidate_caches()
    still_missing = missing_packages()
    if done.returncode != 0 or still_missing:
        last = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()][-3:]
        raise UserError(
            f"Could not install {REQUIREMENTS.name} (pip exited {done.returncode}; still missing: "
            f"{', '.join(still_missing) or 'none'}). pip said: {' / '.join(last) or 'nothing'}. Install it "
            f"by hand with `{sys.executable} -m pip install -r {REQUIREMENTS}`, or build on DuckDB "
            "(the default target)."
        )


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


def ensure_java() -> None:
    java = java_executable()
    major = java_major_version(java) if java else None
    if major is not None and major >= MIN_JAVA:
        return
    found = "no `java` on PATH (and no JAVA_HOME)" if not java else f"{java} is Java {major or 'unknown'}"
    raise UserError(
        f"The Spark target needs Java {MIN_JAVA} or newer, and {found}. Install a JRE (Debian/Ubuntu: "
        "`apt-get install openjdk-17-jre-headless`) or point JAVA_HOME at one, then run again. "
        "DuckDB, the default target, needs no Java."
    )


def unavailable_reason() -> str | None:
    """Why the Spark target cannot run in this environment (packages or Java missing), or None when it can."""
    missing = missing_packages()
    if missing:
        return (
            f"the Spark target is not installed ({', '.join(missing)} missing): "
            f"`{sys.executable} -m pip install -r {REQUIREMENTS}` (or `make test`, which installs it)"
        )
    java = java_executable()
    major = java_major_version(java) if java else None
    if major is None or major < MIN_JAVA:
        found = f"{java}, version {major or 'unknown'}" if java else "no `java` on PATH and no JAVA_HOME"
        return (
            f"Spark needs Java {MIN_JAVA} or newer (found: {found}); Debian/Ubuntu: "
            "`apt-get install openjdk-17-jre-headless`"
        )
    return None


def _lock_holder(lock_file: Path) -> str:
    """'PID 123 (python3 .venv/bin/dbt build ...)' when /proc/locks names the process holding the lock."""
    try:
        inode = lock_file.stat().st_ino
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if len(fields) > 5 and fields[5].rsplit(":", 1)[-1] == str(inode):
                pid = fields[4]
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                return f"PID {pid} ({cmdline[:120]})" if cmdline else f"PID {pid}"
    except (OSError, UnicodeDecodeError):
        pass
    return "another process"


def ensure_metastore_free(data_dir: Path) -> None:
    """Fail at once, naming the holder, when another process has this data folder's Spark metastore open.

    Derby holds an exclusive POSIX lock on metastore_db/dbex.lck while a process has the database booted;
    a lock left by a process that died is released with it, so a stale lock file is never mistaken for a
    live one.
    """
    lock_file = metastore_dir(data_dir) / "dbex.lck"
    if not lock_file.exists():
        return
    try:
        fd = os.open(lock_file, os.O_RDWR)
    except OSError:
        return
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise LockedError(collision_message(data_dir, _lock_holder(lock_file))) from None
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def collision_message(data_dir: Path, holder: str = "another process") -> str:
    return (
        f"The Spark metastore {metastore_dir(data_dir)} is in use by {holder}: a dbt run on the spark "
        "target, a pyspark shell or a notebook on the same data folder. Spark's embedded metastore (Derby) "
        "admits one process at a time. Wait for that process to finish, or stop it, then run again. Nothing "
        "was changed by this run."
    )


def ensure_staged(data_dir: Path) -> None:
    """Spark declares its landing tables over the landing folder before any model runs, and fails with a Java
    FileNotFoundException when there is none: say what to do instead."""
    landing = paths.landing_dir(data_dir)
    if not any(landing.glob("batch=*")):
        raise UserError(
            f"Nothing staged: no batch in the landing zone {landing}. Run `make stage` (or `make run`) "
            "first; `make stage SOURCE=sample` works offline."
        )


def prepare(data_dir: Path, announce: Announce = print) -> None:
    """Everything a dbt run on the spark target needs before it starts; sets the environment dbt inherits."""
    ensure_staged(data_dir)
    ensure_installed(announce)
    ensure_java()
    ensure_metastore_free(data_dir)
    spark_dir(data_dir).mkdir(parents=True, exist_ok=True)
    os.environ.update(spark_env(data_dir))


def log_size(dbt_log: Path) -> int:
    """Where dbt's log ends now: pass it to failure_hint after the run, so only this run's lines are read."""
    try:
        return dbt_log.stat().st_size
    except OSError:
        return 0


def failure_hint(data_dir: Path, dbt_log: Path, since: int = 0) -> str | None:
    """The collision message when this run's part of dbt's log shows it lost the metastore to another one."""
    try:
        with dbt_log.open("rb") as log:
            log.seek(since)
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    return collision_message(data_dir) if DERBY_COLLISION in text else None
