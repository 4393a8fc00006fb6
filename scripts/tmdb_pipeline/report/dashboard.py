"""`tmdb dashboard` (`make dashboard`): serve the dashboard (dashboard/app.py) on 127.0.0.1.

Runs `streamlit run dashboard/app.py` with the settings the dashboard needs whatever the user's own
Streamlit configuration says: localhost only (`--host` says otherwise: a container listens on 0.0.0.0 and
its port is published on the host's localhost), headless, no usage statistics, no file watcher. The app
reads the published marts (the current data folder's `publish/latest` unless --publish-dir says
otherwise); with nothing published yet it still starts and says to run `make run` first.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from pathlib import Path
from typing import NoReturn

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.project import project
from tmdb_pipeline.workspace import DataRoot

INSTALL_HINT = (
    "make venv-dashboard (or: .venv/bin/pip install --require-hashes -r requirements/dashboard.txt)"
)
DEFAULT_PORT = 8501
HOST = "127.0.0.1"


def app() -> Path:
    return project().root / "dashboard" / "app.py"


def missing_requirements() -> list[str]:
    """The dashboard extra's packages the app needs that this interpreter cannot import."""
    return [name for name in ("streamlit", "altair") if importlib.util.find_spec(name) is None]


def streamlit_command(port: int, publish_dir: Path | None = None, host: str = HOST) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app()),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
    ]
    if publish_dir is not None:
        command += ["--", "--publish-dir", str(publish_dir)]
    return command


def server_env() -> dict[str, str]:
    # Streamlit reads .streamlit/config.toml from the working directory: the dashboard's own folder
    return {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def serve(port: int, publish_dir: Path | None = None, host: str = HOST) -> NoReturn:
    """Replace this process with the Streamlit server (so that Ctrl-C or a kill of its PID stops it), showing
    publish_dir (default: the current data folder's publish/)."""
    if publish_dir is None:
        current = DataRoot.from_env().current()
        publish_dir = current.publish_dir if current else DataRoot.from_env().current_link / "publish"
    publish_dir = publish_dir.resolve() if publish_dir.exists() else publish_dir
    missing = missing_requirements()
    if missing:
        raise UserError(
            f"The dashboard needs {', '.join(missing)} (its extra is not installed): run `{INSTALL_HINT}`."
        )
    if not port_is_free(port, host):
        raise UserError(
            f"Port {port} on {host} is in use (another dashboard or server?), or {host} is no address of "
            f"this machine. Choose another: `make dashboard DASHBOARD_PORT={port + 1}`."
        )
    print(f"Dashboard on http://{host}:{port}  (reading {publish_dir}; Ctrl-C stops it)", flush=True)
    os.chdir(app().parent)  # Streamlit reads .streamlit/config.toml from the working directory
    command = streamlit_command(port, publish_dir, host)
    os.execve(command[0], command, server_env())
