"""`tmdb docs` (`make docs`): the dbt docs site of the current warehouse, generated and served on localhost.

`dbt docs generate` (with the packages handled) writes index.html, manifest.json and catalog.json into
target/docs/; a small HTTP server then serves that folder on 127.0.0.1 until Ctrl-C. Port 0 picks a free
port; the URL is printed once the server is listening.
"""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.project import Project
from tmdb_pipeline.warehouse import dbt, packages
from tmdb_pipeline.workspace import Workspace

SITE_FILES = ("index.html", "manifest.json", "catalog.json")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def generate(workspace: Workspace, project: Project, docs_dir: Path) -> None:
    """`dbt docs generate` into docs_dir, against the warehouse of this data folder."""
    if not workspace.warehouse.is_file():
        raise UserError(
            f"The warehouse {workspace.warehouse} does not exist yet, so there is no catalog to document. "
            "Run `make build` (or `make run`) first."
        )
    available = packages.prepare(project)
    if not available.complete:
        print(f"dbt docs: dbt-expectations is not installed ({available.detail}); its tests are left out.")
    code = dbt.run(
        ["docs", "generate", "--target-path", str(docs_dir)], available, project, workspace.dbt_env()
    )
    missing = missing_files(docs_dir)
    if code != 0 or missing:
        raise UserError(
            f"dbt docs generate failed (exit {code}; missing in {docs_dir}: "
            f"{', '.join(missing) or 'nothing'}). dbt's message is above."
        )


def missing_files(docs_dir: Path) -> list[str]:
    return [name for name in SITE_FILES if not (docs_dir / name).is_file()]


def server(docs_dir: Path, host: str, port: int) -> ThreadingHTTPServer:
    """A server for docs_dir bound to host:port (port 0: any free port); call serve_forever() on it."""
    if missing := missing_files(docs_dir):
        raise UserError(f"{docs_dir} has no {', '.join(missing)}: generate the site first (`make docs`).")
    handler = functools.partial(_QuietHandler, directory=str(docs_dir))
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as error:
        raise UserError(
            f"Cannot serve the docs on {host}:{port}: {error.strerror or error}. Choose another port, e.g. "
            "`make docs DOCS_PORT=8081` (or DOCS_PORT=0 for any free port)."
        ) from None
