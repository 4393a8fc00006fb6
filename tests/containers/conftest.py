"""The containers gate's fixtures (`make test-containers`): the image, built once per session from a copy of
the project with fake credentials planted where a careless build would pick them up; compose, driven on a copy
of compose.yaml; and the host's own `tmdb run` to compare with.

Engine and base come from tmdb_devtools.containers: podman on a Debian base made by debootstrap here,
docker on the Dockerfile's own base on GitHub (TMDB_CONTAINER_ENGINE=docker TMDB_CONTAINER_BASE=dockerfile).
Every name a test creates (images tagged :test, compose projects, volumes) carries this run's id, and is
removed at the end but the image, whose layers make the next run's build a cache hit.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tmdb_devtools import containers
from tmdb_pipeline.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE = "localhost/tmdb-warehouse:test"
AIRFLOW_IMAGE = "localhost/tmdb-warehouse-airflow:test"
POSTGRES_IMAGE = "localhost/tmdb-postgres:test"
# Planted in the build context and in the pipeline's kaggle.env; no byte of them may reach an image, a
# volume or a log.
FAKE_KAGGLE_USER = "tmdb-containers-test-user"
FAKE_KAGGLE_KEY = "f4k3k4gg13k3y0f7h3c0n741n3r5g473"
FAKE_API_TOKEN = "KGAT_f4k370k3n0f7h3c0n741n3r5g473"
# Not copied into the build context: what .dockerignore would leave out anyway, and is big.
NOT_COPIED = {".git", ".venv", ".venv-airflow", ".venv-containers", "data", "target", "logs", "dbt_packages"}
TIMINGS = REPO_ROOT / "target" / "containers-timings.json"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def record_timing(name: str, seconds: float) -> None:
    """What each step took, kept in target/containers-timings.json for docs/containers.md."""
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    timings: dict[str, Any] = json.loads(TIMINGS.read_text()) if TIMINGS.is_file() else {}
    timings[name] = round(seconds, 1)
    TIMINGS.write_text(json.dumps(timings, indent=2) + "\n")


@pytest.fixture(scope="session")
def engine() -> containers.Engine:
    try:
        return containers.engine()
    except UserError as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture(scope="session")
def run_id() -> str:
    return f"tmdbtest{os.getpid()}"


@pytest.fixture(scope="session")
def build_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project with fake credentials, a data folder and a venv planted where a user has them."""
    context = tmp_path_factory.mktemp("context") / "project"

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in NOT_COPIED or n == "__pycache__" or n.endswith(".pyc")}

    shutil.copytree(REPO_ROOT, context, ignore=ignore, symlinks=True)
    kaggle_json = json.dumps({"username": FAKE_KAGGLE_USER, "key": FAKE_KAGGLE_KEY})
    planted = {
        "kaggle.env": f"KAGGLE_USERNAME={FAKE_KAGGLE_USER}\nKAGGLE_KEY={FAKE_KAGGLE_KEY}\n",
        ".env": f"KAGGLE_KEY={FAKE_KAGGLE_KEY}\n",
        "kaggle.json": kaggle_json,
        ".kaggle/kaggle.json": kaggle_json,
        ".kaggle/access_token": FAKE_API_TOKEN,
        "dashboard/kaggle.json": kaggle_json,
        "models/.env": f"KAGGLE_API_TOKEN={FAKE_API_TOKEN}\n",
        "data/sample/secret-note.txt": FAKE_KAGGLE_KEY,
        ".venv/pyvenv.cfg": f"# {FAKE_KAGGLE_KEY}\n",
        "target/leak.txt": FAKE_KAGGLE_KEY,
    }
    for relative, text in planted.items():
        (context / relative).parent.mkdir(parents=True, exist_ok=True)
        (context / relative).write_text(text)
    return context


@pytest.fixture(scope="session")
def base(engine: containers.Engine) -> str | None:
    """The BASE_IMAGE every build uses: None for the Dockerfile's own (a registry), else a local one."""
    started = time.monotonic()
    found = containers.base_image(engine, announce=lambda line: print(line, flush=True))
    record_timing("base image (s)", time.monotonic() - started)
    return found


@pytest.fixture(scope="session")
def image(engine: containers.Engine, build_context: Path, base: str | None) -> str:
    """The default image, built as a user would (credentials in the shell and in the folder)."""
    log = REPO_ROOT / "target" / "containers-build.log"
    os.environ.update(KAGGLE_USERNAME=FAKE_KAGGLE_USER, KAGGLE_KEY=FAKE_KAGGLE_KEY)
    try:
        seconds = containers.build(engine, build_context, IMAGE, base=base, log=log)
    finally:
        for name in ("KAGGLE_USERNAME", "KAGGLE_KEY"):
            os.environ.pop(name, None)
    record_timing("image build (s)", seconds)
    print(f"built {IMAGE} on {base or 'the Dockerfile base'} in {seconds:.0f} s (log: {log})", flush=True)
    return IMAGE


@pytest.fixture(scope="session")
def airflow_image(engine: containers.Engine, build_context: Path, base: str | None, image: str) -> str:
    """The `airflow` target (every Airflow service of compose.yaml), after the default image: it shares
    that build's layers."""
    log = REPO_ROOT / "target" / "containers-build-airflow.log"
    seconds = containers.build(engine, build_context, AIRFLOW_IMAGE, target="airflow", base=base, log=log)
    record_timing("airflow image build (s)", seconds)
    return AIRFLOW_IMAGE


@pytest.fixture(scope="session")
def postgres_image(engine: containers.Engine, build_context: Path, base: str | None) -> str | None:
    """The metadata database's image: the Dockerfile's `postgres` target (Debian's PostgreSQL) on a local
    base, where no registry can be reached; None (compose's default, the official image) on the
    Dockerfile's own base."""
    if base is None:
        return None
    log = REPO_ROOT / "target" / "containers-build-postgres.log"
    seconds = containers.build(engine, build_context, POSTGRES_IMAGE, target="postgres", base=base, log=log)
    record_timing("postgres image build (s)", seconds)
    return POSTGRES_IMAGE


@dataclass
class Compose:
    """compose.yaml, copied into a folder of its own with a kaggle.env holding the fake credentials."""

    engine: containers.Engine
    folder: Path
    project: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def data_volume(self) -> str:
        return f"{self.project}_data"

    def command(self, *args: str) -> list[str]:
        return [*containers.compose_command(self.engine, REPO_ROOT), "-p", self.project, "-f",
                str(self.folder / "compose.yaml"), *args]  # fmt: skip

    def run(self, *args: str, timeout: float = 900, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=self.folder,
            env={**os.environ, **self.engine.env, **self.env, **env},
            text=True,
            capture_output=True,
            check=False,
            timeout=timeout,
        )


@pytest.fixture(scope="module")
def compose(
    engine: containers.Engine, image: str, run_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Compose]:
    folder = tmp_path_factory.mktemp("compose")
    shutil.copy(REPO_ROOT / "compose.yaml", folder / "compose.yaml")
    (folder / "kaggle.env").write_text(
        f"KAGGLE_USERNAME={FAKE_KAGGLE_USER}\nKAGGLE_KEY={FAKE_KAGGLE_KEY}\nKAGGLE_API_TOKEN={FAKE_API_TOKEN}\n"
    )
    # the one-shot service `pipeline` is behind the profile `pipeline` (docker compose enables it when a
    # command names the service; podman-compose wants it named)
    stack = Compose(engine, folder, f"{run_id}c", {"TMDB_IMAGE": image, "COMPOSE_PROFILES": "pipeline"})
    yield stack
    stack.run("down", "--volumes", timeout=180)
    engine.run("volume", "rm", "--force", stack.data_volume, check=False)


def in_image(engine: containers.Engine, image: str, volume: str, *command: str) -> str:
    """A command's output in a throwaway container of the image, with the data volume at /data."""
    done = engine.run("run", "--rm", "--volume", f"{volume}:/data", image, *command, check=False)
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} in {image} failed ({done.returncode}): {done.stderr[-2000:]}"
        )
    return done.stdout


@pytest.fixture(scope="session")
def host_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tmdb run --source sample` on the host (what `make run` runs), in a data root of its own."""
    root = tmp_path_factory.mktemp("host")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAGGLE", "TMDB_", "DBT_", "PYTHONPATH"))}
    env.update(
        HOME=str(root / "home"),
        KAGGLEHUB_CACHE=str(root / "kagglehub-cache"),
        TMDB_PROJECT_DIR=str(REPO_ROOT),
        TMDB_DATA_ROOT=str(root / "data"),
        TMDB_SKIP_DBT_DEPS="1",  # as the image does at run time
        DBT_TARGET_PATH=str(root / "target"),
        DBT_LOG_PATH=str(root / "logs"),
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "tmdb_pipeline", "run", "--source", "sample"],
        cwd=REPO_ROOT,
        env=env,
        text=True,
        capture_output=True,
        check=False,
    )
    record_timing("host tmdb run (s)", time.monotonic() - started)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root / "data" / "sample"


def scan_export(
    engine: containers.Engine, image: str, needles: list[bytes]
) -> tuple[set[str], dict[bytes, list[str]]]:
    """Every path in a container of the image, and which files hold each needle (read as one tar stream)."""
    container = engine.run("create", image).stdout.strip()
    names: set[str] = set()
    hits: dict[bytes, list[str]] = {needle: [] for needle in needles}
    try:
        with subprocess.Popen(
            engine.command("export", container), stdout=subprocess.PIPE, env={**os.environ, **engine.env}
        ) as export:
            assert export.stdout is not None
            with tarfile.open(fileobj=export.stdout, mode="r|") as tar:
                for member in tar:
                    name = member.name.removeprefix("./")
                    names.add(name)
                    handle = tar.extractfile(member) if member.isfile() else None
                    data = handle.read() if handle else b""
                    for needle in needles:
                        if needle in data:
                            hits[needle].append(name)
    finally:
        engine.run("rm", "--force", container, check=False)
    assert len(names) > 10_000, f"the export of {image} looks empty ({len(names)} paths)"
    return names, hits
