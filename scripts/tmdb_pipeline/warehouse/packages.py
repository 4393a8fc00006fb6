"""dbt's packages (dbt-expectations and dbt-date): installed, copied from a mirror, fetched from the dbt Hub,
or, where none of these can be had, left out loudly.

dbt refuses to parse a project whose packages.yml lists more packages than dbt_packages/ holds. Where the
packages cannot be had (no dbt Hub, no mirror), dbt runs on a view of the project without packages.yml
(`.dbt_offline/`, links to the real files) and every test that needs dbt-expectations is excluded -- and
named, never counted as passed (tmdb_pipeline.warehouse.dbt).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.project import Project, tool

REQUIRED = ("dbt_expectations", "dbt_date")
# Where `dbt deps` fetches the package index; probed first, so that a checkout with no network does not wait
# ~8 s for dbt to fail on every run. With a proxy configured, dbt alone can tell.
HUB_HOST = "hub.getdbt.com"
HUB_PROBE_TIMEOUT_S = 3.0
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy")
# What the offline view leaves out of the project; everything else is linked in.
NOT_IN_OFFLINE_VIEW = {
    "packages.yml",
    "package-lock.yml",
    "dependencies.yml",
    "dbt_packages",
    "target",
    "logs",
}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Packages:
    mode: str  # "installed" | "mirror" | "hub" | "unavailable"
    detail: str

    @property
    def complete(self) -> bool:
        return self.mode != "unavailable"


def prepare(project: Project) -> Packages:
    """Make dbt's packages available by the best means at hand, and say which."""
    if not _missing(project.packages_dir):
        return Packages("installed", f"packages already installed in {project.packages_dir.name}/")
    mirror = os.environ.get("DBT_PACKAGES_MIRROR")
    if mirror:
        _install_from_mirror(Path(mirror).expanduser(), project.packages_dir)
        return Packages("mirror", f"installed from DBT_PACKAGES_MIRROR={mirror}")
    if os.environ.get("TMDB_SKIP_DBT_DEPS") == "1":
        return Packages("unavailable", "TMDB_SKIP_DBT_DEPS=1")
    unreachable = _hub_unreachable()
    if unreachable:
        return Packages("unavailable", unreachable)
    log.info("dbt deps: installing packages from the dbt Hub ...")
    timeout = float(os.environ.get("TMDB_DBT_DEPS_TIMEOUT", "120"))
    try:
        deps = subprocess.run(
            [tool("dbt"), "deps"],
            check=False,
            cwd=project.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        reason = _last_error_line(deps.stdout + deps.stderr) if deps.returncode else ""
    except subprocess.TimeoutExpired:
        reason = f"dbt deps did not finish within {timeout:.0f} s"
    if not _missing(project.packages_dir):
        return Packages("hub", "installed from the dbt Hub")
    return Packages("unavailable", reason or "dbt deps installed nothing")


def _names(folder: Path) -> dict[str, Path]:
    """dbt package name (from each subfolder's dbt_project.yml) -> its folder."""
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for child in sorted(folder.iterdir()):
        project_file = child / "dbt_project.yml"
        if child.name.startswith(".") or not project_file.is_file():
            continue  # hidden: a copy still being installed
        for line in project_file.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("name:"):
                found[line.split(":", 1)[1].strip().strip("'\"")] = child
                break
    return found


def _missing(packages_dir: Path) -> list[str]:
    installed = _names(packages_dir)
    return [name for name in REQUIRED if name not in installed]


def _install_from_mirror(mirror: Path, packages_dir: Path) -> None:
    if not mirror.is_dir():
        raise UserError(
            f"DBT_PACKAGES_MIRROR is set to {mirror}, which is not a folder. Point it at a folder holding "
            f"checkouts of the packages {', '.join(REQUIRED)} (one subfolder each), or unset it to use "
            "the dbt Hub."
        )
    available = _names(mirror)
    missing = [name for name in REQUIRED if name not in available]
    if missing:
        raise UserError(
            f"DBT_PACKAGES_MIRROR ({mirror}) holds no package named {', '.join(missing)} (found: "
            f"{', '.join(sorted(available)) or 'none'}). Each package is a subfolder with its own "
            "dbt_project.yml: check out metaplane/dbt-expectations 0.10.x and godatadriven/dbt-date 0.21.x "
            "there."
        )
    packages_dir.mkdir(exist_ok=True)
    installed = _names(packages_dir)
    for name in REQUIRED:
        if name in installed:
            continue
        # one partial copy per process: two runs installing at once each rename a whole copy, the second
        # finds the package there and drops its own
        partial = packages_dir / f".{name}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(
            available[name], partial, ignore=shutil.ignore_patterns(".git", "integration_tests", "docs")
        )
        try:
            partial.rename(packages_dir / name)
        except OSError:
            if not (packages_dir / name / "dbt_project.yml").is_file():
                raise
            shutil.rmtree(partial, ignore_errors=True)


def _hub_unreachable() -> str:
    """Why the dbt Hub cannot be reached, found in milliseconds; "" when it may be (or a proxy decides)."""
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return ""
    try:
        socket.create_connection((HUB_HOST, 443), timeout=HUB_PROBE_TIMEOUT_S).close()
    except OSError as exc:
        return f"dbt deps could not reach the dbt Hub: no network route to {HUB_HOST} from here ({exc})"
    return ""


def _last_error_line(output: str) -> str:
    if any(sign in output for sign in ("NameResolutionError", "Max retries exceeded", "ConnectionError")):
        return "dbt deps could not reach the dbt Hub: no network route to it from here"
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "error" in line:
            return line[:300]
    return lines[-1][:300] if lines else ""


def offline_view(project: Project) -> Path:
    """A view of the project without its packages file, so dbt parses where the packages are missing."""
    view = project.offline_view
    view.mkdir(exist_ok=True)
    wanted = {
        p.name
        for p in project.root.iterdir()
        if p.name not in NOT_IN_OFFLINE_VIEW and not p.name.startswith(".")
    }
    # Several processes may refresh the view at once (gates run side by side): whoever is first wins.
    for link in view.iterdir():
        if link.name not in wanted:
            link.unlink(missing_ok=True)
    for name in wanted:
        link = view / name
        if not link.is_symlink():
            with contextlib.suppress(FileExistsError):
                link.symlink_to(project.root / name)
    return view
