"""Where a fault campaign runs the pipeline: a work folder with a slice of the real sample, a data root of its
own (a small tmpfs where this machine lets us mount one, so that a disk can fill up), dbt's target and log
folders, and the `tmdb` command started in a process group of its own.

The dataset folder is always `<work>/source` and the data root always `<work>/data`: the pipeline's data
folder, the warehouse path and so dbt's saved parse stay the same from trial to trial (a changed path costs a
full dbt parse). What changes between trials is what is in them: the slice's first version or its second
(new and changed files), and an empty data root or a copy of the one a clean first run left.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ENTITY_FOLDERS = {"movies": Path("movies/movies"), "series": Path("series/series")}
# The data root's own filesystem: room for a slice's warehouse many times over, yet small enough to fill.
DATA_DISK_SIZE = "768m"


@dataclass(frozen=True)
class Slice:
    """Which files of the real sample a campaign uses: the first `movies` / `series` files by TMDB id for the
    first run; for the second, `new_movies` / `new_series` more, and every n-th first-run file changed."""

    movies: int = 640
    series: int = 60
    new_movies: int = 40
    new_series: int = 10
    changed: int = 30

    def describe(self) -> str:
        return (
            f"the first {self.movies} movies and {self.series} series of the real sample by TMDB id; then "
            f"{self.new_movies} + {self.new_series} new files and {self.changed} changed ones"
        )


def _by_id(folder: Path) -> list[Path]:
    def key(path: Path) -> tuple[int, str]:
        digits = "".join(c for c in path.stem.rsplit("_", 1)[-1] if c.isdigit())
        return (int(digits) if digits else 0, path.name)

    return sorted((p for p in folder.iterdir() if p.suffix == ".json"), key=key)


def write_slice(real_sample: Path, versions: Path, spec: Slice) -> dict[str, int]:
    """versions/v1 and versions/v2 from the real sample (copies that keep each file's mtime, as a download
    would); returns the number of files of each. Changed files get new values and a later mtime."""
    shutil.rmtree(versions, ignore_errors=True)
    counts = {}
    for entity, relative in ENTITY_FOLDERS.items():
        found = _by_id(real_sample / relative)
        first, new = (spec.movies, spec.new_movies) if entity == "movies" else (spec.series, spec.new_series)
        if len(found) < first + new:
            raise ValueError(
                f"{real_sample / relative} has {len(found)} files, the slice needs {first + new}"
            )
        for version, files in (("v1", found[:first]), ("v2", found[: first + new])):
            folder = versions / version / relative
            folder.mkdir(parents=True, exist_ok=True)
            for path in files:
                shutil.copy2(path, folder / path.name)
                (folder / path.name).chmod(0o644)
    v1_movies = _by_id(versions / "v1" / ENTITY_FOLDERS["movies"])
    step = max(1, len(v1_movies) // max(1, spec.changed))
    for path in v1_movies[::step][: spec.changed]:
        changed = versions / "v2" / ENTITY_FOLDERS["movies"] / path.name
        document = json.loads(changed.read_bytes())
        document["vote_count"] = int(document.get("vote_count") or 0) + 1
        document["popularity"] = round(float(document.get("popularity") or 0) + 0.5, 3)
        changed.write_text(json.dumps(document), encoding="utf-8")
        os.utime(changed, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    for version in ("v1", "v2"):
        counts[version] = sum(1 for _ in (versions / version).glob("*/*/*.json"))
    return counts


def mount_available() -> str | None:
    """None when this process can mount a tmpfs and bind-mount a folder read-only, else why not."""
    if os.geteuid() != 0:
        return "not root: the full-disk and read-only faults need mount(8)"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "mount(8) is not installed"
    return None


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


def unmount(point: Path) -> None:
    subprocess.run(["umount", "-l", str(point)], check=False, capture_output=True)


def mounted(point: Path) -> int:
    """How many mounts sit on `point` (0: none)."""
    text = Path("/proc/self/mountinfo").read_text()
    return sum(1 for line in text.splitlines() if line.split()[4] == str(point))


class CampaignBox:
    """The campaign's work folder and how to run `tmdb` in it."""

    def __init__(self, work: Path, python: str = sys.executable) -> None:
        self.work = work.resolve()
        self.python = python
        self.source = self.work / "source"
        self.versions = self.work / "versions"
        self.data_root = self.work / "data"
        self.references = self.work / "references"
        self.target_dir = self.work / "dbt-target"
        self.logs = self.work / "logs"
        self.home = self.work / "home"
        self.runs = self.work / "runs"
        self.has_disk = False
        for folder in (self.work, self.data_root, self.references, self.target_dir, self.logs, self.home):
            folder.mkdir(parents=True, exist_ok=True)
        self.runs.mkdir(exist_ok=True)

    # -- the data root's own disk -------------------------------------------------------------------

    def mount_disk(self) -> None:
        """Give the data root a tmpfs of its own (where mounting works): the full-disk fault fills it."""
        if mount_available() is None and not mounted(self.data_root):
            with contextlib.suppress(subprocess.CalledProcessError):
                _mount("-t", "tmpfs", "-o", f"size={DATA_DISK_SIZE}", "tmpfs", str(self.data_root))
        self.has_disk = mounted(self.data_root) > 0

    def close(self) -> None:
        while mounted(self.data_root):
            unmount(self.data_root)

    # -- state between trials -----------------------------------------------------------------------

    def set_source(self, version: str) -> None:
        shutil.rmtree(self.source, ignore_errors=True)
        shutil.copytree(self.versions / version, self.source, copy_function=shutil.copy2)

    def reset_data(self, snapshot: Path | None) -> None:
        """Empty the data root (leaving its mount), then copy `snapshot` into it, if any."""
        for child in self.data_root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        if snapshot is not None:
            shutil.copytree(snapshot, self.data_root, symlinks=True, dirs_exist_ok=True)

    def save_data(self, name: str) -> Path:
        saved = self.references / name
        shutil.rmtree(saved, ignore_errors=True)
        shutil.copytree(self.data_root, saved, symlinks=True, ignore=shutil.ignore_patterns(".pipeline.lock"))
        return saved

    def data_folder(self) -> Path | None:
        """The one data folder under the data root (the pipeline names it after the dataset folder)."""
        found = [p for p in self.data_root.glob("folder-*") if p.is_dir() and not p.is_symlink()]
        return found[0] if len(found) == 1 else None

    # -- running tmdb -------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("KAGGLE", "TMDB_", "DBT_", "PYTHONPATH"))
        }
        if "TMDB_PROJECT_DIR" in os.environ:  # the project under test (a gate may run on a copy)
            env["TMDB_PROJECT_DIR"] = os.environ["TMDB_PROJECT_DIR"]
        env.update(
            HOME=str(self.home),
            KAGGLEHUB_CACHE=str(self.work / "kagglehub-cache"),
            TMDB_DATA_ROOT=str(self.data_root),
            TMDB_SKIP_DBT_DEPS="1",  # the dbt-expectations tests are left out (and listed): no Hub
            TMDB_THREADS="2",
            DBT_TARGET_PATH=str(self.target_dir),
            DBT_LOG_PATH=str(self.logs),
            DBT_SEND_ANONYMOUS_USAGE_STATS="False",
        )
        return env

    @property
    def dbt_log(self) -> Path:
        return self.logs / "dbt.log"

    def command(self, *args: str) -> list[str]:
        return [self.python, "-m", "tmdb_pipeline", *args]

    def start(self, name: str, *args: str) -> Started:
        output = self.runs / f"{name}.log"
        with open(output, "w") as out:
            proc = subprocess.Popen(
                self.command(*args),
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        return Started(proc, output, time.monotonic())

    def run(self, name: str, *args: str, timeout: float = 900) -> Finished:
        started = self.start(name, *args)
        return started.wait(timeout)

    def run_pipeline(self, name: str) -> Finished:
        return self.run(name, "run", "--source", str(self.source))


@dataclass
class Finished:
    returncode: int
    output: str
    elapsed_s: float

    def tail(self, lines: int = 25) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


@dataclass
class Started:
    proc: subprocess.Popen[str]
    output: Path
    started: float

    @property
    def group(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.group, sig)

    def wait(self, timeout: float) -> Finished:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            code = self.proc.wait()
            log.warning("killed %s after %.0f s: it did not end by itself", self.output.name, timeout)
        except BaseException:  # the campaign itself is being stopped: take the run with it
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGKILL)
            raise
        self.wait_group_gone()
        return Finished(code, self.output.read_text(errors="replace"), time.monotonic() - self.started)

    def wait_group_gone(self, timeout: float = 60) -> None:
        """Until no process of the group has a thread left: a killed dbt holds the warehouse's lock until the
        kernel has torn down its last thread."""
        deadline = time.monotonic() + timeout
        while live_group_members(self.group):
            if time.monotonic() > deadline:
                self.signal(signal.SIGKILL)
                raise TimeoutError(f"processes of group {self.group} still alive after {timeout:.0f} s")
            time.sleep(0.05)


def live_group_members(group: int) -> list[int]:
    members = []
    for task_stat in Path("/proc").glob("[0-9]*/task/[0-9]*/stat"):
        try:
            fields = task_stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] not in ("Z", "X"):
            members.append(int(task_stat.parents[2].name))
    return sorted(set(members))


def trial_seeds(seed: int, count: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(1, 2**31) for _ in range(count)]
