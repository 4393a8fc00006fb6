"""The project's container images for the containers gate (tests/containers) and for contributors: the engine
that builds and runs them, the Debian base made locally where no registry can be reached, the image build.

Engine: podman (Debian's package; the default) or docker (GitHub's runners: TMDB_CONTAINER_ENGINE=docker).
Podman runs here only with settings this machine needs (no default ulimits, runc rather than crun, cgroupfs):
they are written once into a containers.conf that every podman call is pointed at through CONTAINERS_CONF,
so podman-compose's own podman calls get them too.

Base: the Dockerfile's BASE_IMAGE is the official slim Python 3.11 image, pinned by digest. Where no registry
can be reached (TMDB_CONTAINER_BASE unset or `debootstrap`) a Debian bookworm made by debootstrap, with
Debian's python3 (3.11) and its venv module, stands in for it: imported as localhost/tmdb-debian-base:<key>,
the key hashing what made it, so a change of recipe makes a new one. The root filesystem's tarball is kept
in a cache folder outside the repository (TMDB_CONTAINERS_CACHE, default ~/.cache/tmdb-containers): an
image store that lost the base imports it again in seconds rather than running debootstrap (~95 s).
TMDB_CONTAINER_BASE=dockerfile builds on the Dockerfile's own base (a registry is needed); any other value
names the base image to use.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tmdb_pipeline.errors import UserError

Announce = Callable[[str], None]

ENGINES = ("podman", "docker")
# podman's own default runtime (crun) fails on these machines; runc works (docs/containers.md).
PODMAN_CONF = """\
# Written by tmdb_devtools.containers: the settings podman needs on the project's machines.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"

[engine.runtimes]
runc = ["/usr/sbin/runc", "/usr/bin/runc"]
"""
# What the locally made base holds: what the Dockerfile expects of its BASE_IMAGE (python3 3.11 with venv).
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_PACKAGES = ("python3-venv", "ca-certificates")
BASE_REPOSITORY = "localhost/tmdb-debian-base"
BASE_RECIPE_VERSION = "1"  # bump when the making below changes in a way the key does not see
# The pip inside an image build trusts the host's CA bundle where it has one (a TLS-inspecting proxy);
# a no-op in the Dockerfile where the secret is absent or empty.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CONTAINERS_VENV = ".venv-containers"  # podman-compose, from tests/containers/requirements.lock
INSTALL_HINT = {
    "podman": "apt-get install -y podman runc (Debian)",
    "runc": "apt-get install -y runc (Debian)",
    "debootstrap": "apt-get install -y debootstrap (Debian)",
    "docker": "Docker Engine (https://docs.docker.com/engine/install/)",
}


def cache_dir() -> Path:
    return Path(os.environ.get("TMDB_CONTAINERS_CACHE") or Path.home() / ".cache" / "tmdb-containers")


def engine_name() -> str:
    name = os.environ.get("TMDB_CONTAINER_ENGINE", "podman").strip() or "podman"
    if name not in ENGINES:
        raise UserError(f"TMDB_CONTAINER_ENGINE={name!r}: use podman or docker.")
    return name


def base_choice() -> str:
    """`debootstrap` (the default), `dockerfile` (the Dockerfile's own BASE_IMAGE) or an image name."""
    return os.environ.get("TMDB_CONTAINER_BASE", "").strip() or "debootstrap"


def missing_tools() -> list[str]:
    """What this machine lacks to build and run the images, one line each saying what to install."""
    name = engine_name()
    needed = [name] + (["runc"] if name == "podman" else [])
    if base_choice() == "debootstrap":
        needed.append("debootstrap")
    found = {tool: _which(tool) for tool in needed}
    return [
        f"{tool} not found: install it ({INSTALL_HINT[tool]})" for tool, where in found.items() if not where
    ]


def _which(tool: str) -> str | None:
    # runc and debootstrap live in sbin, which a non-login PATH may lack
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin:/usr/local/sbin")


@dataclass(frozen=True)
class Engine:
    name: str
    env: dict[str, str] = field(default_factory=dict)  # what every call of the engine (and compose) needs

    def command(self, *args: str) -> list[str]:
        return [self.name, *args]

    def run(
        self, *args: str, check: bool = True, capture: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """One engine command; with check, a failure raises with its output's tail."""
        done = subprocess.run(
            self.command(*args),
            env={**os.environ, **self.env},
            text=True,
            check=False,
            capture_output=capture,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            tail = ((done.stdout or "") + (done.stderr or ""))[-3000:]
            raise RuntimeError(
                f"{self.name} {' '.join(args[:3])} ... failed (exit {done.returncode}):\n{tail}"
            )
        return done

    def image_exists(self, image: str) -> bool:
        return self.run("image", "inspect", image, check=False).returncode == 0


def engine() -> Engine:
    """The engine, with what it needs to run here; a one-line error naming what to install where missing."""
    missing = missing_tools()
    if missing:
        raise UserError("; ".join(missing))
    name = engine_name()
    if name == "docker":
        docker = Engine("docker")
        if docker.run("info", check=False).returncode != 0:  # the client alone answers --version
            raise UserError(
                "docker is installed but no Docker Engine answers (`docker info` fails): start it, or use "
                "podman (TMDB_CONTAINER_ENGINE=podman, the default)."
            )
        return docker
    conf = cache_dir() / "containers.conf"
    if not conf.is_file() or conf.read_text() != PODMAN_CONF:
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(PODMAN_CONF)
    return Engine("podman", {"CONTAINERS_CONF": str(conf)})


def compose_command(engine: Engine, root: Path) -> list[str]:
    """How to run compose: TMDB_COMPOSE (e.g. `podman compose`), docker's own plugin with docker, else
    podman-compose from the gate's venv (`make containers-venv`: tests/containers/requirements.lock)."""
    override = os.environ.get("TMDB_COMPOSE", "").strip()
    if override:
        return shlex.split(override)
    if engine.name == "docker":
        return ["docker", "compose"]
    local = root / CONTAINERS_VENV / "bin" / "podman-compose"
    if not local.exists():
        raise UserError(f"podman-compose is missing ({local}): run `make containers-venv`.")
    return [str(local)]


def base_key() -> str:
    recipe = "|".join((BASE_RECIPE_VERSION, DEBIAN_SUITE, "minbase", DEBIAN_MIRROR, *DEBIAN_PACKAGES))
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def base_image(engine: Engine, announce: Announce = print) -> str | None:
    """The BASE_IMAGE to build on: None for the Dockerfile's own, else an image that exists in the engine."""
    choice = base_choice()
    if choice == "dockerfile":
        return None
    if choice != "debootstrap":
        return choice
    image = f"{BASE_REPOSITORY}:{DEBIAN_SUITE}-{base_key()}"
    if engine.image_exists(image):
        announce(f"base image {image}: present")
        return image
    tarball = cache_dir() / f"debian-{DEBIAN_SUITE}-{base_key()}.tar"
    if not tarball.is_file():
        _debootstrap(tarball, announce)
    started = time.monotonic()
    engine.run(
        "import",
        "--change",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--change",
        f"LABEL org.opencontainers.image.description=Debian {DEBIAN_SUITE} minbase + "
        f"{' '.join(DEBIAN_PACKAGES)} (debootstrap), recipe {base_key()}",
        str(tarball),
        image,
    )
    announce(f"base image {image}: imported from {tarball} in {time.monotonic() - started:.0f} s")
    return image


def _debootstrap(tarball: Path, announce: Announce) -> None:
    """debootstrap a minimal bookworm with python3-venv into a tarball of its root filesystem."""
    tarball.parent.mkdir(parents=True, exist_ok=True)
    announce(f"debootstrap: Debian {DEBIAN_SUITE} minbase + {', '.join(DEBIAN_PACKAGES)} (~95 s, once)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tmdb-debootstrap-", dir=tarball.parent) as work:
        root = Path(work) / "rootfs"
        log = tarball.with_suffix(".debootstrap.log")
        command = [
            _which("debootstrap") or "debootstrap",
            "--variant=minbase",
            f"--include={','.join(DEBIAN_PACKAGES)}",
            DEBIAN_SUITE,
            str(root),
            DEBIAN_MIRROR,
        ]
        with open(log, "w") as out:
            code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
        if code != 0:
            tail = log.read_text(errors="replace")[-2000:]
            raise UserError(f"debootstrap failed (exit {code}); its log is {log}:\n{tail}")
        # what a base image need not carry: the downloaded packages and the package lists
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (root / leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        partial = tarball.with_name(tarball.name + ".partial")
        subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True)
        partial.replace(tarball)
    announce(f"debootstrap: {tarball} in {time.monotonic() - started:.0f} s")


def build(
    engine: Engine,
    context: Path,
    tag: str,
    *,
    target: str | None = None,
    base: str | None = None,
    extra_args: Sequence[str] = (),
    log: Path | None = None,
) -> float:
    """Build the Dockerfile in `context` (stage `target`, or the default one) as `tag`; its seconds.

    The build reaches PyPI (and Debian, for the spark stage) through the host's network; the host's CA
    bundle is handed to pip as a build secret, never stored in a layer.
    """
    args = ["build", "--tag", tag, "--file", str(context / "Dockerfile")]
    if engine.name == "podman":
        # podman's default OCI format drops HEALTHCHECK; its default network cannot reach PyPI here
        args += ["--format", "docker", "--network", "host"]
    if target:
        args += ["--target", target]
    if base:
        args += ["--build-arg", f"BASE_IMAGE={base}"]
    if HOST_CA_BUNDLE.is_file():
        args += ["--secret", f"id=pip_cert,src={HOST_CA_BUNDLE}"]
    args += [*extra_args, str(context)]
    superseded = _image_id(engine, tag)
    started = time.monotonic()
    if log is None:
        engine.run(*args, capture=False)
    else:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as out:
            done = subprocess.run(
                engine.command(*args),
                env={**os.environ, **engine.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-4000:]
            raise RuntimeError(
                f"{engine.name} build of {tag} failed (exit {done.returncode}); {log}:\n{tail}"
            )
    seconds = time.monotonic() - started
    if superseded and superseded != _image_id(engine, tag):
        # the image this tag named before: untagged now, it would only fill the disk, run after run
        engine.run("rmi", superseded, check=False)
    return seconds


def _image_id(engine: Engine, image: str) -> str | None:
    done = engine.run("image", "inspect", "--format", "{{.Id}}", image, check=False)
    return done.stdout.strip() or None if done.returncode == 0 else None
