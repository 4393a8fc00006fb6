"""`make dashboard` / `pipeline.py dashboard`: serve the dashboard (dashboard/app.py) on 127.0.0.1.

Runs `streamlit run dashboard/app.py` with the settings the dashboard needs whatever the user's own
Streamlit configuration says: localhost only, headless, no usage statistics, no file watcher. The app
reads the published marts (`data/current/publish/latest` unless --publish-dir / TMDB_PUBLISH_DIR says
otherwise); with nothing published yet it still starts and says to run `make run` first.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from tmdb_pipeline import paths

APP = paths.REPO_ROOT / "dashboard" / "app.py"
REQUIREMENTS = paths.REPO_ROOT / "requirements-dashboard.txt"
DEFAULT_PORT = 8501
HOST = "127.0.0.1"


def missing_requirements() -> list[str]:
    """The packages of requirements-dashboard.txt the app needs that this interpreter cannot import."""
    return [name for name in ("streamlit", "altair") if importlib.util.find_spec(name) is None]


def streamlit_command(port: int, publish_dir: Path | None = None, host: str = HOST) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pipeline.py dashboard", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("DASHBOARD_PORT", DEFAULT_PORT)))
    parser.add_argument(
        "--publish-dir",
        type=Path,
        default=None,
        help="a publish folder (holding latest) or one version folder; default data/current/publish",
    )
    args = parser.parse_args(argv)
    missing = missing_requirements()
    if missing:
        print(
            f"ERROR: the dashboard needs {', '.join(missing)}: `make dashboard` installs them"
            f" ({REQUIREMENTS.name}), or run `.venv/bin/pip install -r {REQUIREMENTS.name}`.",
            file=sys.stderr,
        )
        return 2
    if not port_is_free(args.port):
        print(
            f"ERROR: port {args.port} on {HOST} is in use (another dashboard or server?). Choose another:"
            f" `make dashboard DASHBOARD_PORT={args.port + 1}`.",
            file=sys.stderr,
        )
        return 2
    publish_dir = args.publish_dir.resolve() if args.publish_dir else None
    where = publish_dir or paths.CURRENT_LINK / "publish"
    print(f"Dashboard on http://{HOST}:{args.port}  (reading {where}; Ctrl-C stops it)", flush=True)
    # streamlit replaces this process, so that a signal to it (Ctrl-C, a kill of its PID) stops the server
    os.chdir(APP.parent)
    command = streamlit_command(args.port, publish_dir)
    os.execve(command[0], command, server_env())
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
