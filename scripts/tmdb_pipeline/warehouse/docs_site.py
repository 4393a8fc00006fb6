"""`tmdb docs` (`make docs`): the dbt docs site of the current warehouse, generated and served on localhost.

`dbt docs generate` (with the packages handled) writes index.html, manifest.json and catalog.json into
target/docs/; a small HTTP server then serves that folder on 127.0.0.1 until Ctrl-C. Port 0 picks a free
port; the URL is printed once the server is listening.

Right after a build (an orchestrator's docs step), `--from-build` gives the site that build's own manifest:
the SQL it compiled and ran. dbt then compiles nothing (`docs generate --no-compile`, only the catalog) and
starts from the build's saved parse, instead of parsing and compiling the whole project again.
"""

from __future__ import annotations

import functools
import logging
import shutil
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.project import Project, project
from tmdb_pipeline.warehouse import dbt, packages
from tmdb_pipeline.workspace import DataRoot, Workspace

SITE_FILES = ("index.html", "manifest.json", "catalog.json")
# What a build leaves in its dbt target folder that the site reuses: its manifest, and dbt's saved parse.
BUILD_MANIFEST = "manifest.json"
BUILD_PARSE = "partial_parse.msgpack"

log = logging.getLogger(__name__)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def command(
    docs_dir: Path | None,
    *,
    host: str,
    port: int,
    generate_site: bool = True,
    serve_site: bool = True,
    from_build: Path | None = None,
) -> int:
    """`tmdb docs`: generate the site of the current warehouse into docs_dir (default target/docs), then serve
    it until Ctrl-C; either step can be left out."""
    docs_dir = (docs_dir or project().target_dir / "docs").resolve()
    if generate_site:
        workspace = DataRoot.from_env().current()
        if workspace is None:
            raise UserError(
                "There is no warehouse to document yet: nothing has been built. Run `make run` first "
                "(`make run SOURCE=sample` works offline), then `make docs`."
            )
        generate(workspace, project(), docs_dir, from_build)
        if not serve_site:
            log.info(f"dbt docs: site written to {docs_dir}")
            return 0
    site = server(docs_dir, host, port)
    bound_host, bound_port = site.server_address[:2]
    log.info(f"dbt docs: serving {docs_dir} at http://{bound_host}:{bound_port}/ (Ctrl-C to stop)")
    try:
        site.serve_forever()
    except KeyboardInterrupt:
        log.info("\ndbt docs: stopped.")
    finally:
        site.server_close()
    return 0


def generate(workspace: Workspace, project: Project, docs_dir: Path, from_build: Path | None = None) -> None:
    """`dbt docs generate` into docs_dir, against the warehouse of this data folder; with from_build (the
    dbt target folder of the build just run), the site takes that build's manifest and compiles nothing."""
    if not workspace.warehouse.is_file():
        raise UserError(
            f"The warehouse {workspace.warehouse} does not exist yet, so there is no catalog to document. "
            "Run `make build` (or `make run`) first."
        )
    args = ["docs", "generate", "--target-path", str(docs_dir)]
    if from_build is not None:
        _start_from_build(from_build, docs_dir)
        args.append("--no-compile")
    available = packages.prepare(project)
    if not available.complete:
        log.info(f"dbt docs: dbt-expectations is not installed ({available.detail}); its tests are left out.")
    code = dbt.run(args, available, project, workspace.dbt_env())
    if code == 0 and from_build is not None:
        shutil.copyfile(from_build / BUILD_MANIFEST, docs_dir / BUILD_MANIFEST)
    missing = missing_files(docs_dir)
    if code != 0 or missing:
        raise UserError(
            f"dbt docs generate failed (exit {code}; missing in {docs_dir}: "
            f"{', '.join(missing) or 'nothing'}). dbt's message is above."
        )


def _start_from_build(build_dir: Path, docs_dir: Path) -> None:
    """Check the build's folder, and put its saved parse where dbt looks for it (dbt parses anew when the
    parse does not fit this project, profile and environment: slower, never wrong)."""
    if not (build_dir / BUILD_MANIFEST).is_file():
        raise UserError(
            f"{build_dir} has no {BUILD_MANIFEST}: --from-build takes the dbt target folder of a build that "
            "has run (its manifest.json). Leave the option out to compile the site from the project."
        )
    docs_dir.mkdir(parents=True, exist_ok=True)
    # the manifest of an earlier build must not outlive a failure of this one
    (docs_dir / BUILD_MANIFEST).unlink(missing_ok=True)
    if (build_dir / BUILD_PARSE).is_file():
        shutil.copyfile(build_dir / BUILD_PARSE, docs_dir / BUILD_PARSE)


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
