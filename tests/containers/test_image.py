"""The default image: who it runs as, and that it holds nothing of the build folder but the project.

It was built from a folder holding fake Kaggle credentials (kaggle.env, .env, kaggle.json, ~/.kaggle-style
files, even inside the copied folders), a data folder and a venv, with the credentials in the builder's
environment too: not one byte of them may be in the image's filesystem.
"""

from __future__ import annotations

import json
import time

from conftest import FAKE_API_TOKEN, FAKE_KAGGLE_KEY, FAKE_KAGGLE_USER, record_timing, scan_export
from tmdb_devtools import containers


def test_runs_as_a_non_root_user(engine: containers.Engine, image: str) -> None:
    config = json.loads(engine.run("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == "tmdb"
    ids = engine.run("run", "--rm", image, "id", "-u", "-n").stdout.split()
    uid = engine.run("run", "--rm", image, "id", "-u").stdout.strip()
    assert ids == ["tmdb"] and uid == "1000"


def test_the_project_is_read_only_and_data_goes_to_data(engine: containers.Engine, image: str) -> None:
    """The dbt project at /app belongs to root; the user writes /data, and at /app only the offline dbt view
    and dbt_packages/ (DBT_PACKAGES_MIRROR)."""
    paths = ("/app", "/app/models", "/app/dbt_project.yml", "/app/.dbt_offline", "/app/dbt_packages", "/data")
    script = f"import os; print(json.dumps({{p: os.access(p, os.W_OK) for p in {paths!r}}}))"
    writable = json.loads(engine.run("run", "--rm", image, "python3", "-c", f"import json; {script}").stdout)
    assert writable == {
        "/app": False,
        "/app/models": False,
        "/app/dbt_project.yml": False,
        "/app/.dbt_offline": True,
        "/app/dbt_packages": True,
        "/data": True,
    }


def test_holds_no_credentials_nor_local_state(engine: containers.Engine, image: str) -> None:
    """Every file of the image's filesystem (a container's export), searched for the fake credentials; a
    model's name is searched for too, to show the scan reads what the files hold."""
    started = time.monotonic()
    control = b"mart_audit__load_reconciliation"
    secrets = [s.encode() for s in (FAKE_KAGGLE_KEY, FAKE_API_TOKEN, FAKE_KAGGLE_USER)]
    names, hits = scan_export(engine, image, [control, *secrets])
    record_timing("image scan (s)", time.monotonic() - started)
    assert any(name.startswith("app/models/") for name in hits[control])
    assert {secret.decode(): hits[secret] for secret in secrets} == {
        secret.decode(): [] for secret in secrets
    }
    left_out = (
        "app/kaggle.env",
        "app/kaggle.json",
        "app/.env",
        "app/dashboard/kaggle.json",
        "app/models/.env",
    )
    assert [name for name in left_out if name in names] == []
    assert not any(
        name.startswith(("app/data/", "app/.venv/", "app/target/", "app/.kaggle")) for name in names
    )
