"""The machine's Chromium for the browser tests (the dashboard's pages, the Spark UIs): where it is, and the
flags it runs with on a headless CI machine. Debian's package, never `playwright install` (no route to its
download host here)."""

from __future__ import annotations

import os
import shutil

# Headless, as root in a container (no sandbox), with nothing that reaches the network on its own.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
INSTALL_HINT = (
    "no Chromium or Chrome: `apt-get install -y chromium` (Debian), or set TMDB_CHROMIUM to a Chrome binary;"
    " never `playwright install`"
)


def find_chromium() -> str | None:
    """TMDB_CHROMIUM, else /usr/bin/chromium, else chromium, chromium-browser or google-chrome on PATH."""
    candidates = [os.environ.get("TMDB_CHROMIUM"), "/usr/bin/chromium"]
    candidates += [shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")]
    return next((c for c in candidates if c and os.path.isfile(c) and os.access(c, os.X_OK)), None)
