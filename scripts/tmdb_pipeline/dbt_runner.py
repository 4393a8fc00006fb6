"""Run dbt with its packages handled: installed, copied from a mirror, fetched from the Hub, or skipped.

dbt refuses to parse a project whose packages.yml lists more packages than dbt_packages/ holds. Where the
packages cannot be had (no dbt Hub, no mirror), dbt runs on a view of the project without packages.yml
(`.dbt_offline/`, symlinks to the real files) and every test that needs dbt-expectations is excluded -- and
named, never counted as passed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.paths import REPO_ROOT

REQUIRED_PACKAGES = ("dbt_expectations", "dbt_date")
# Where `dbt deps` fetches the package index; probed first, so that a checkout with no network does not wait
# for dbt to fail on every run. With a proxy configured, dbt alone can tell.
HUB_HOST = "hub.getdbt.com"
HUB_PROBE_TIMEOUT_S = 3.0
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy")
PACKAGES_DIR = REPO_ROOT / "dbt_packages"
OFFLINE_PROJECT = REPO_ROOT / ".dbt_offline"
# dbt's target/ and logs/ folders; DBT_TARGET_PATH / DBT_LOG_PATH move them (e.g. one per test run), and
# the run results are then read from where dbt wrote them.
TARGET_DIR = REPO_ROOT / os.environ.get("DBT_TARGET_PATH", "target")
LOG_DIR = REPO_ROOT / os.environ.get("DBT_LOG_PATH", "logs")
# Tests that call dbt-expectations' generic tests. dbt resolves a generic test's macro only when the test
# runs, so excluded ones still parse.
EXPECTATIONS_SELECTOR = "test_name:expect_*"
# Commands that run tests and so must leave out the ones whose package is missing.
SELECTING_COMMANDS = {
    "build",
    "test",
    "list",
    "ls",
    "run",
    "seed",
    "snapshot",
    "compile",
    "show",
}
# What the offline view leaves out of the project; everything else is linked in.
NOT_IN_OFFLINE_VIEW = {
    "packages.yml",
    "package-lock.yml",
    "dependencies.yml",
    "dbt_packages",
    "target",
    "logs",
    ".git",
}

Announce = Callable[[str], None]


@dataclass(frozen=True)
class Packages:
    mode: str  # "installed" | "mirror" | "hub" | "unavailable"
    detail: str

    @property
    def complete(self) -> bool:
        return self.mode != "unavailable"


@dataclass
class BuildResult:
    returncode: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # resource type -> status -> n
    failures: list[str] = field(default_factory=list)
    skipped_expectations: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


def _package_names(folder: Path) -> dict[str, Path]:
    """Map dbt package name (from each subfolder's dbt_project.yml) to its folder."""
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for child in sorted(folder.iterdir()):
        project = child / "dbt_project.yml"
        if not project.is_file():
            continue
        for line in project.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("name:"):
                found[line.split(":", 1)[1].strip().strip("'\"")] = child
                break
    return found


def _missing_installed() -> list[str]:
    installed = _package_names(PACKAGES_DIR)
    return [name for name in REQUIRED_PACKAGES if name not in installed]


def _install_from_mirror(mirror: Path) -> None:
    if not mirror.is_dir():
        raise UserError(
            f"DBT_PACKAGES_MIRROR is set to {mirror}, which is not a folder. Point it at a folder holding "
            f"checkouts of the packages {', '.join(REQUIRED_PACKAGES)} (one subfolder each), or unset it to "
            "use the dbt Hub."
        )
    available = _package_names(mirror)
    missing = [name for name in REQUIRED_PACKAGES if name not in available]
    if missing:
        raise UserError(
            f"DBT_PACKAGES_MIRROR ({mirror}) holds no package named {', '.join(missing)} (found: "
            f"{', '.join(sorted(available)) or 'none'}). Each package is a subfolder with its own "
            "dbt_project.yml: check out metaplane/dbt-expectations 0.10.x and godatadriven/dbt-date 0.21.x "
            "there."
        )
    PACKAGES_DIR.mkdir(exist_ok=True)
    installed = _package_names(PACKAGES_DIR)
    for name in REQUIRED_PACKAGES:
        if name in installed:
            continue
        staging = PACKAGES_DIR / f".{name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(
            available[name],
            staging,
            ignore=shutil.ignore_patterns(".git", "integration_tests", "docs"),
        )
        staging.rename(PACKAGES_DIR / name)


def _dbt_executable() -> str:
    local = Path(sys.executable).with_name("dbt")
    return str(local) if local.exists() else "dbt"


def prepare_packages(announce: Announce = print) -> Packages:
    """Make dbt's packages available by the best means at hand, and say which."""
    if not _missing_installed():
        return Packages("installed", f"packages already installed in {PACKAGES_DIR.name}/")
    mirror = os.environ.get("DBT_PACKAGES_MIRROR")
    if mirror:
        _install_from_mirror(Path(mirror).expanduser())
        return Packages("mirror", f"installed from DBT_PACKAGES_MIRROR={mirror}")
    if os.environ.get("TMDB_SKIP_DBT_DEPS") == "1":
        return Packages("unavailable", "TMDB_SKIP_DBT_DEPS=1")
    unreachable = _hub_unreachable()
    if unreachable:
        return Packages("unavailable", unreachable)
    announce("dbt deps: installing packages from the dbt Hub ...")
    timeout = float(os.environ.get("TMDB_DBT_DEPS_TIMEOUT", "120"))
    try:
        deps = subprocess.run(
            [_dbt_executable(), "deps"],
            check=False,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        reason = _last_error_line(deps.stdout + deps.stderr) if deps.returncode else ""
    except subprocess.TimeoutExpired:
        reason = f"dbt deps did not finish within {timeout:.0f} s"
    if not _missing_installed():
        return Packages("hub", "installed from the dbt Hub")
    return Packages("unavailable", reason or "dbt deps installed nothing")


def _hub_unreachable() -> str:
    """Why the dbt Hub cannot be reached, found in milliseconds; "" when it may be (or a proxy decides).

    Without a network route, `dbt deps` takes ~8 s to fail, on every run of an air-gapped checkout."""
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return ""  # only dbt (through the proxy) can tell
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


def _offline_project() -> Path:
    """A view of the project without its packages file, so dbt parses where the packages are missing."""
    OFFLINE_PROJECT.mkdir(exist_ok=True)
    wanted = {
        p.name
        for p in REPO_ROOT.iterdir()
        if p.name not in NOT_IN_OFFLINE_VIEW and not p.name.startswith(".")
    }
    for link in OFFLINE_PROJECT.iterdir():
        if link.name not in wanted:
            link.unlink()
    for name in wanted:
        link = OFFLINE_PROJECT / name
        if not link.is_symlink():
            link.symlink_to(REPO_ROOT / name)
    return OFFLINE_PROJECT


def dbt_command(args: Sequence[str], packages: Packages) -> list[str]:
    """The dbt command line for these arguments, leaving out what the missing packages would need."""
    command = [_dbt_executable(), *args]
    if packages.complete:
        return command
    command += [
        "--project-dir",
        str(_offline_project()),
        "--profiles-dir",
        str(REPO_ROOT),
    ]
    # `docs generate` compiles every node too, so it selects like the others (`docs serve` takes no selector)
    if args and (args[0] in SELECTING_COMMANDS or list(args[:2]) == ["docs", "generate"]):
        if EXPECTATIONS_SELECTOR in command:
            return command
        if "--exclude" in command:
            command.insert(command.index("--exclude") + 1, EXPECTATIONS_SELECTOR)
        else:
            command += ["--exclude", EXPECTATIONS_SELECTOR]
    return command


def dbt_env(data_dir: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env["DBT_TARGET_PATH"] = str(TARGET_DIR)  # absolute: dbt may run from the offline project view
    env["DBT_LOG_PATH"] = str(LOG_DIR)
    if data_dir is not None:
        env["TMDB_DATA_DIR"] = str(data_dir)
    return env


def run_dbt(args: Sequence[str], packages: Packages, data_dir: Path | None = None) -> int:
    """Run dbt in the foreground (its output goes straight to the terminal) and return its exit code."""
    command = dbt_command(args, packages)
    return subprocess.run(command, check=False, cwd=REPO_ROOT, env=dbt_env(data_dir)).returncode


def skipped_expectation_tests() -> list[str]:
    """Names of the dbt-expectations tests in the last parsed manifest (all of them were excluded)."""
    manifest = TARGET_DIR / "manifest.json"
    if not manifest.is_file():
        return []
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
    return sorted(
        node["name"]
        for node in nodes
        if node["resource_type"] == "test"
        and (node.get("test_metadata") or {}).get("name", "").startswith("expect_")
    )


def read_run_results() -> BuildResult:
    results_file = TARGET_DIR / "run_results.json"
    result = BuildResult(returncode=0)
    if not results_file.is_file():
        return result
    data = json.loads(results_file.read_text(encoding="utf-8"))
    result.elapsed_s = float(data.get("elapsed_time") or 0.0)
    for item in data["results"]:
        resource = item["unique_id"].split(".", 1)[0]
        status = item["status"]
        by_status = result.counts.setdefault(resource, {})
        by_status[status] = by_status.get(status, 0) + 1
        if status in ("error", "fail"):
            result.failures.append(f"{item['unique_id']}: {(item.get('message') or '').strip()[:200]}")
    return result


def announce_skipped(packages: Packages, skipped: list[str], announce: Announce = print) -> None:
    if packages.complete:
        return
    bar = "!" * 100
    lines = [
        bar,
        f"dbt-expectations is NOT installed ({packages.detail}).",
        f"{len(skipped)} dbt-expectations tests were SKIPPED -- not run, not counted as passed:",
        *(f"  - {name}" for name in skipped),
        "To run them: set DBT_PACKAGES_MIRROR to a folder holding dbt_expectations and dbt_date checkouts,",
        "or run where the dbt Hub is reachable so that `dbt deps` works. See README.",
        bar,
    ]
    announce("\n".join(lines))
