"""compose.yaml as a user runs it: valid; the pipeline's one-shot run on the built-in sample, its data on the
named volume (the same tables as the host's `tmdb run`); the dashboard serving what it published, healthy.

Compose runs on a copy of compose.yaml beside a kaggle.env holding fake credentials (as a user's would), with
SOURCE=sample: the credentials reach the pipeline's environment, and must leave no trace in its output or
in the data volume.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import (
    FAKE_API_TOKEN,
    FAKE_KAGGLE_KEY,
    REPO_ROOT,
    Compose,
    free_port,
    in_image,
    record_timing,
)
from tmdb_devtools import checksums, containers
from tmdb_pipeline.project import tool

SAMPLE_DIR = "/data/sample"
# The image ships the pipeline, not the development tools: the comparison travels in as the program itself.
CHECKSUMS_SCRIPT = (
    Path(checksums.__file__).read_text()
    + "\nimport json, sys\nprint(json.dumps(table_checksums(Path(sys.argv[1]))))\n"
)


def test_the_compose_file_is_valid(compose: Compose) -> None:
    """Against the Compose Specification's schema, then as the compose tool itself reads it."""
    done = compose.run("config", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    schema = subprocess.run(
        [
            tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(REPO_ROOT / "compose.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    spec = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())
    assert set(spec["services"]) == {
        "secrets",
        "postgres",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "dashboard",
        "pipeline",
    }
    assert set(spec["volumes"]) == {"data", "airflow", "postgres", "secrets", "dbt-offline"}
    for name, service in spec["services"].items():
        if name not in ("secrets", "postgres"):
            assert "data:/data" in " ".join(service.get("volumes", [])), name
        if service.get("restart") != "no":  # every long-running service: a healthcheck, a restart policy
            assert service["restart"] == "unless-stopped" and service["healthcheck"]["test"], name
    assert spec["services"]["pipeline"]["profiles"] == ["pipeline"]  # not started by `up`


@pytest.fixture(scope="module")
def pipeline_run(compose: Compose) -> str:
    started = time.monotonic()
    done = compose.run("run", "--rm", "-T", "pipeline", SOURCE="sample")
    record_timing("compose run pipeline (s)", time.monotonic() - started)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    return output


def test_the_pipeline_prints_its_summary(pipeline_run: str) -> None:
    summary = pipeline_run[pipeline_run.index("TMDB pipeline summary") :]
    assert "Source        built-in synthetic sample (2,000 movies + 500 series, seed 42)" in summary
    assert f"Staging       batch b000001 in {SAMPLE_DIR}/landing" in summary
    assert "dbt build     OK: " in summary
    assert f"Warehouse     {SAMPLE_DIR}/tmdb.duckdb" in summary
    assert f"Published     {SAMPLE_DIR}/publish/latest (12 relations" in summary


def test_the_warehouse_equals_the_hosts(
    compose: Compose, image: str, pipeline_run: str, host_run: Path
) -> None:
    """Every core and marts table, row for row (checksums.table_checksums), against `tmdb run` on the host."""
    in_container = json.loads(
        in_image(
            compose.engine,
            image,
            compose.data_volume,
            "python3",
            "-c",
            CHECKSUMS_SCRIPT,
            f"{SAMPLE_DIR}/tmdb.duckdb",
        )
    )
    # through JSON as the container's answer came, so that column lists compare with column lists
    on_host = json.loads(json.dumps(checksums.table_checksums(host_run / "tmdb.duckdb")))
    every_table = {
        f"{layer}.{model.stem}"
        for layer in checksums.COMPARED_SCHEMAS
        for model in (REPO_ROOT / "models" / layer).glob("*.sql")
    }
    assert sorted(on_host) == sorted(every_table - set(checksums.LOAD_HISTORY_TABLES))
    assert checksums.differences(on_host, in_container) == []


def test_the_published_marts_are_on_the_volume(
    compose: Compose, image: str, pipeline_run: str, host_run: Path
) -> None:
    """publish/latest on the volume: the host's relations, with the same row counts, every file present."""
    script = (
        "import json, os, sys; latest = os.path.realpath(sys.argv[1]); "
        "print(json.dumps({'manifest': json.load(open(os.path.join(latest, 'manifest.json'))), "
        "'files': sorted(os.listdir(latest))}))"
    )
    found = json.loads(
        in_image(
            compose.engine,
            image,
            compose.data_volume,
            "python3",
            "-c",
            script,
            f"{SAMPLE_DIR}/publish/latest",
        )
    )
    host_manifest: dict[str, Any] = json.loads(
        (host_run / "publish" / "latest" / "manifest.json").read_text()
    )

    def rows(manifest: dict[str, Any]) -> dict[str, int]:
        return {name: relation["rows"] for name, relation in manifest["relations"].items()}

    assert rows(found["manifest"]) == rows(host_manifest)
    assert len(rows(host_manifest)) == 12
    assert {r["file"] for r in found["manifest"]["relations"].values()} <= set(found["files"])
    assert found["manifest"]["source"]["kind"] == "sample"


def test_the_credentials_leave_no_trace(compose: Compose, image: str, pipeline_run: str) -> None:
    """They reached the container (kaggle.env), yet are in neither its output nor any file it wrote."""
    environment = compose.run("run", "--rm", "-T", "pipeline", "env", timeout=300).stdout
    assert f"KAGGLE_KEY={FAKE_KAGGLE_KEY}" in environment
    assert FAKE_KAGGLE_KEY not in pipeline_run and FAKE_API_TOKEN not in pipeline_run
    done = compose.engine.run(
        "run",
        "--rm",
        "--volume",
        f"{compose.data_volume}:/data",
        image,
        "grep",
        "-r",
        "-l",
        "-F",
        "-e",
        FAKE_KAGGLE_KEY,
        "-e",
        FAKE_API_TOKEN,
        "/data",
        check=False,
    )
    assert done.returncode == 1, f"found in {done.stdout}{done.stderr}"  # grep: 1 = no match, 2 = error


def _health(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return str(response.read().decode())
    except OSError as error:
        return f"{error}"


def test_the_dashboard_answers_its_health_check(compose: Compose, pipeline_run: str) -> None:
    """`compose up -d dashboard`: Streamlit's health endpoint from the host, then the engine's healthcheck."""
    port = free_port()
    started = time.monotonic()
    done = compose.run("up", "-d", "dashboard", DASHBOARD_PORT=str(port), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    url = f"http://127.0.0.1:{port}/_stcore/health"
    answer = ""
    while time.monotonic() - started < 90 and answer != "ok":
        answer = _health(url)
        time.sleep(0.5)
    record_timing("dashboard healthy (s)", time.monotonic() - started)
    assert answer == "ok", f"{url}: {answer}"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
        assert page.status == 200 and b"<html" in page.read().lower()
    container = _container_of(compose, "dashboard")
    assert _healthcheck_passes(compose.engine, container)
    user = compose.engine.run("exec", container, "id", "-u").stdout.strip()
    assert user == "1000"


def _container_of(compose: Compose, service: str) -> str:
    listed = compose.engine.run(
        "ps",
        "--filter",
        f"label=com.docker.compose.project={compose.project}",
        "--filter",
        f"label=com.docker.compose.service={service}",
        "--format",
        "{{.Names}}",
    ).stdout.split()
    assert len(listed) == 1, listed
    return listed[0]


def _healthcheck_passes(engine: containers.Engine, container: str) -> bool:
    """podman runs a healthcheck on demand (its timers need systemd); docker's own timer reports it."""
    if engine.name == "podman":
        return engine.run("healthcheck", "run", container, check=False).returncode == 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        state = engine.run("inspect", "--format", "{{.State.Health.Status}}", container).stdout.strip()
        if state in ("healthy", "unhealthy"):
            return state == "healthy"
        time.sleep(2)
    return False
