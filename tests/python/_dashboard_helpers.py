"""What the dashboard tests share: the built-in sample built and published once per test session (in a
sandbox, out of the repository's data/), the dashboard's pages, and a dashboard server on a free port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from _pipeline_helpers import REPO_ROOT, Sandbox

DASHBOARD = REPO_ROOT / "dashboard"
# page file -> (URL path in the running app, what the page is called in the sidebar)
PAGES = {
    "overview": ("", "Overview"),
    "genres": ("genres", "Genres over time"),
    "top_titles": ("top_titles", "Top titles"),
    "money": ("money", "Money"),
    "countries": ("countries", "Countries and languages"),
    "series": ("series", "Series"),
    "quality": ("quality", "Data quality"),
    "model": ("model", "Model"),
    "health": ("health", "Pipeline health"),
}


@dataclass
class PublishedSample:
    sandbox: Sandbox
    data_dir: Path

    @property
    def publish_dir(self) -> Path:
        return self.data_dir / "publish"

    @property
    def version(self) -> Path:
        return (self.publish_dir / "latest").resolve()


_BUILT: dict[str, PublishedSample] = {}


def published_sample(tmp_path_factory: pytest.TempPathFactory) -> PublishedSample:
    """`tmdb run --source sample` once per session (2,000 movies + 500 series), published, then once more
    (nothing new: freshness and the run's record only)."""
    if "sample" not in _BUILT:
        root = tmp_path_factory.mktemp("dashboard-sample")
        (root / "slot").mkdir()
        sandbox = Sandbox(root, root / "target", root / "slot" / "tmdb.duckdb")
        run = sandbox.run("run", "--source", "sample")
        assert run.returncode == 0, run.describe()
        sample = PublishedSample(sandbox, sandbox.data_root / "sample")
        assert (sample.publish_dir / "latest" / "manifest.json").is_file(), run.describe()
        # a second run, with nothing new: the Pipeline health page then has a history of several runs
        again = sandbox.run("run", "--source", "sample")
        assert again.returncode == 0, again.describe()
        if not (sample.data_dir / "ml" / "latest").exists():
            _publish_a_model(root / "model", sample.data_dir / "ml")
        _BUILT["sample"] = sample
    return _BUILT["sample"]


def _publish_a_model(work: Path, ml_dir: Path) -> None:
    """The built-in sample has too few movies of known revenue for a model (`tmdb run` trains none): the
    Model page is shown a model trained on a published set written by hand (tests/python/_ml_helpers.py)."""
    import shutil

    from _ml_helpers import published_set
    from tmdb_pipeline import ml
    from tmdb_pipeline.workspace import DataRoot

    workspace = DataRoot(work).workspace(work / "folder-model")
    published_set(workspace.root, kind="sample")
    assert ml.train(workspace, track=False).published is not None
    shutil.copytree(workspace.ml_dir, ml_dir, symlinks=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def dashboard_server(publish_dir: Path, log: Path) -> Iterator[str]:
    """`tmdb dashboard` (what `make dashboard` runs) on a free port; yields its URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMDB_", "STREAMLIT_"))}
    env["HOME"] = str(log.parent)  # no ~/.streamlit of the user's
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tmdb_pipeline",
                "dashboard",
                "--port",
                str(port),
                "--publish-dir",
                str(publish_dir),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"the dashboard exited ({proc.returncode}):\n{log.read_text()}"
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer,
            ):
                if answer.status == 200:
                    break
            assert time.monotonic() < deadline, f"the dashboard did not start in 60 s:\n{log.read_text()}"
            time.sleep(0.2)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
