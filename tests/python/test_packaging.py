"""The Python half is one installable package with one command, installed from a lock file.

`tmdb --help` names every command a user runs and nothing else: the contributors' tooling (gates, benchmark)
lives in scripts/tmdb_devtools, which the wheel does not contain. The package never edits sys.path, never sets
PYTHONPATH and never runs pip; the lock files everyone installs from (requirements/*.txt) are exports of
uv.lock, which resolves exactly the dependencies pyproject.toml declares."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tmdb_pipeline import cli
from tmdb_pipeline.project import project

ROOT = project().root
PACKAGE = ROOT / "scripts" / "tmdb_pipeline"
LOCK_EXPORTS = ("base", "dev", "spark", "spark-thrift", "bench", "dashboard", "ml")


def test_the_installed_command_lists_every_command() -> None:
    tmdb = Path(sys.executable).with_name("tmdb")
    assert tmdb.is_file(), "the console script is not installed: `make venv` installs the package"
    shown = subprocess.run([str(tmdb), "--help"], capture_output=True, text=True, check=True).stdout
    commands = {name for name, sub in _subcommands().items() if sub.description}
    assert commands >= {"run", "stage", "build", "docs", "dbt", "get", "sample", "dashboard"}
    assert not commands & {"test", "bench", "bench-step", "check-secrets"}, "contributors' tooling in tmdb"
    for name in commands:
        assert re.search(rf"^\s+{re.escape(name)}\s", shown, re.MULTILINE), (
            f"`tmdb --help` does not list {name}"
        )


def _subcommands() -> dict[str, object]:
    parser = cli.parser()
    (action,) = [a for a in parser._actions if a.dest == "command"]  # the sub-parsers
    return dict(action.choices)  # type: ignore[attr-defined]


def test_every_make_target_calls_tmdb_or_the_devtools() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target, command in [
        *((t, "$(TMDB) ") for t in ("run", "stage", "build", "docs", "dashboard")),
        *((t, "$(DEVTOOLS) ") for t in ("test", "lint", "bench")),
    ]:
        recipe = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
        assert recipe and command in recipe.group(1), f"make {target} does not call {command.strip()}"


def test_the_wheel_holds_the_pipeline_and_not_the_devtools(tmp_path: Path) -> None:
    """What a user installs is the pipeline; the gates, benchmark and test drivers stay in the checkout."""
    # setuptools builds in the source folder (build/, *.egg-info): a copy keeps the checkout clean
    source = tmp_path / "source"
    shutil.copytree(
        ROOT / "scripts", source / "scripts", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("tmdb_warehouse-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/", 1)[0] for name in archive.namelist()}
    assert "tmdb_pipeline" in tops
    assert not {top for top in tops if "devtools" in top or "dbt_bouncer" in top or "sqlfluff" in top}


@pytest.mark.parametrize(
    ("pattern", "what"),
    [
        (r"sys\.path\.(insert|append)|sys\.path\s*=", "a sys.path edit"),
        (r"PYTHONPATH", "PYTHONPATH"),
        (r"pip\"?,\s*\"install|pip install", "pip install at run time"),
    ],
)
def test_the_package_never_reaches_around_the_install(pattern: str, what: str) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(pattern, line) and "make venv" not in line and "pip install --require-hashes" not in line
    ]
    assert not found, f"{what} in {found}"


def _locked_versions() -> dict[str, set[str]]:
    """Package -> the versions uv.lock holds (several where the resolution forks by Python version)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    versions: dict[str, set[str]] = {}
    for package in lock["package"]:
        if "version" in package:
            versions.setdefault(package["name"], set()).add(package["version"])
    return versions


@pytest.mark.parametrize("export", [*LOCK_EXPORTS, "pip"])
def test_each_lock_file_pins_with_hashes_what_uv_lock_resolved(export: str) -> None:
    locked = _locked_versions()
    text = (ROOT / "requirements" / f"{export}.txt").read_text()
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", text, re.MULTILINE)
    assert pins, f"requirements/{export}.txt pins nothing"
    requirements = re.split(r"\n(?=\S)", text.strip())
    assert all("--hash=sha256:" in requirement for requirement in requirements), (
        "a requirement without a hash"
    )
    for name, version in pins:
        normalised = re.sub(r"[-_.]+", "-", name).lower()
        assert version in locked.get(normalised, set()), f"{export}.txt: {name}=={version} is not in uv.lock"


def test_uv_lock_resolves_what_pyproject_declares() -> None:
    """A dependency added to pyproject.toml without `make lock` would be missing from every install."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (ours,) = [package for package in lock["package"] if package["name"] == "tmdb-warehouse"]
    metadata = ours["metadata"]

    def names(requirements: list[str]) -> set[str]:
        return {
            re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=~!;]", r, maxsplit=1)[0]).lower() for r in requirements
        }

    assert names(declared["dependencies"]) == {
        r["name"] for r in metadata["requires-dist"] if "marker" not in r
    }
    for extra, requirements in declared["optional-dependencies"].items():
        in_lock = {r["name"] for r in metadata["requires-dist"] if r.get("marker") == f"extra == '{extra}'"}
        assert names(requirements) == in_lock, f"extra {extra}: pyproject.toml and uv.lock differ (make lock)"
