"""`make docs`: generate the dbt docs site for the current warehouse and serve it on localhost.

`dbt docs generate` (through the pipeline's dbt runner) writes index.html, manifest.json and catalog.json
into target/docs/; a small HTTP server then serves that folder on 127.0.0.1 until Ctrl-C. `--port 0`
picks a free port. The URL is printed once the server is listening. `--no-serve` only generates.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Sequence
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tmdb_pipeline import dbt_runner, paths
from tmdb_pipeline.errors import UserError

DEFAULT_DOCS_DIR = paths.REPO_ROOT / "target" / "docs"
SITE_FILES = ("index.html", "manifest.json", "catalog.json")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _data_dir() -> Path:
    if os.environ.get("TMDB_DATA_DIR"):
        return Path(os.environ["TMDB_DATA_DIR"]).resolve()
    if paths.CURRENT_LINK.exists():
        return paths.CURRENT_LINK.resolve()
    raise UserError(
        "There is no warehouse to document yet: nothing has been built. Run `make run` first "
        "(`make run SOURCE=sample` works offline), then `make docs`."
    )


def generate(docs_dir: Path) -> None:
    """`dbt docs generate` into docs_dir, against the warehouse of the data folder staged last."""
    data_dir = _data_dir()
    warehouse = paths.warehouse_path(data_dir)
    if not warehouse.is_file():
        raise UserError(
            f"The warehouse {warehouse} does not exist yet, so there is no catalog to document. "
            "Run `make build` (or `make run`) first."
        )
    packages = dbt_runner.prepare_packages(print)
    args = ["docs", "generate", "--target-path", str(docs_dir)]
    if not packages.complete:
        # Generating the docs compiles every test; those of the missing package cannot compile.
        args += ["--exclude", dbt_runner.EXPECTATIONS_SELECTOR]
        print(
            f"dbt docs: dbt-expectations is not installed ({packages.detail}); "
            "its tests are left out of the site."
        )
    code = dbt_runner.run_dbt(args, packages, data_dir)
    missing = [name for name in SITE_FILES if not (docs_dir / name).is_file()]
    if code != 0 or missing:
        raise UserError(
            f"dbt docs generate failed (exit {code}; missing in {docs_dir}: "
            f"{', '.join(missing) or 'nothing'}). dbt's message is above."
        )


def serve(docs_dir: Path, host: str, port: int) -> ThreadingHTTPServer:
    """A server for docs_dir bound to host:port (port 0: any free port); call serve_forever() on it."""
    handler = functools.partial(_QuietHandler, directory=str(docs_dir))
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as error:
        raise UserError(
            f"Cannot serve the docs on {host}:{port}: {error.strerror or error}. Choose another port, e.g. "
            "`make docs DOCS_PORT=8081` (or DOCS_PORT=0 for any free port)."
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pipeline.py docs", description=__doc__)
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: localhost only)")
    parser.add_argument("--docs-dir", type=Path, default=DEFAULT_DOCS_DIR, help="where the site is written")
    parser.add_argument("--no-generate", action="store_true", help="serve the site already in --docs-dir")
    parser.add_argument("--no-serve", action="store_true", help="generate the site, then exit")
    args = parser.parse_args(argv)
    docs_dir = args.docs_dir.resolve()
    try:
        if not args.no_generate:
            generate(docs_dir)
            if args.no_serve:
                print(f"dbt docs: site written to {docs_dir}", flush=True)
                return 0
        elif missing := [name for name in SITE_FILES if not (docs_dir / name).is_file()]:
            raise UserError(f"{docs_dir} has no {', '.join(missing)}: run `make docs` without --no-generate.")
        server = serve(docs_dir, args.host, args.port)
    except UserError as error:
        print(f"\nERROR: {error}", file=sys.stderr)
        return error.exit_code
    host, port = server.server_address[:2]
    print(f"dbt docs: serving {docs_dir} at http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\ndbt docs: stopped.")
    finally:
        server.server_close()
    return 0
