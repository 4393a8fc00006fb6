"""The secrets compose.yaml's stack generates at its first start (orchestration/airflow/launch.py `secrets`):
each written once, private to its owner, kept by a later start, and a lost one replaced alone."""

from __future__ import annotations

import importlib.util
import json
import stat
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


def _launch() -> Any:
    # launch.py runs with Airflow's venv, but imports only the standard library at its top
    spec = importlib.util.spec_from_file_location(
        "tmdb_airflow_launch", REPO_ROOT / "orchestration/airflow/launch.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


launch = _launch()


def _read(folder: Path) -> dict[str, str]:
    return {name: (folder / name).read_text() for name in launch.SECRET_NAMES}


def test_the_first_start_writes_every_secret_private_and_consistent(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    written = launch.generate_secrets(folder, database_host="db")
    assert written == list(launch.SECRET_NAMES)
    values = _read(folder)
    password = values["postgres_password"]
    assert len(password) >= 32
    assert values["sql_alchemy_conn"] == f"postgresql+psycopg2://airflow:{password}@db:5432/airflow"
    admin = json.loads(values["simple_auth_manager_passwords.json"])
    assert list(admin) == ["admin"] and len(admin["admin"]) >= 16
    assert len({values["jwt_secret"], password, admin["admin"], values["fernet_key"]}) == 4
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE((folder / name).stat().st_mode) for name in launch.SECRET_NAMES} == {0o600}
    assert sorted(p.name for p in folder.iterdir()) == sorted(launch.SECRET_NAMES)  # no temporary left


def test_a_later_start_keeps_them_and_replaces_only_what_was_lost(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    launch.generate_secrets(folder)
    first = _read(folder)
    assert launch.generate_secrets(folder) == []
    assert _read(folder) == first
    (folder / "jwt_secret").unlink()
    assert launch.generate_secrets(folder) == ["jwt_secret"]
    again = _read(folder)
    assert again["jwt_secret"] != first["jwt_secret"]
    assert {k: v for k, v in again.items() if k != "jwt_secret"} == {
        k: v for k, v in first.items() if k != "jwt_secret"
    }


def test_the_connection_follows_the_database_password_it_was_made_with(tmp_path: Path) -> None:
    """A connection that no longer matches the password kept (edited by hand, another host) is remade
    from that password: the database, made at the first start, knows no other."""
    folder = tmp_path / "secrets"
    launch.generate_secrets(folder)
    (folder / "sql_alchemy_conn").write_text("postgresql+psycopg2://airflow:stale@postgres:5432/airflow")
    assert launch.generate_secrets(folder, database_host="elsewhere") == ["sql_alchemy_conn"]
    password = (folder / "postgres_password").read_text()
    assert (folder / "sql_alchemy_conn").read_text().endswith(f":{password}@elsewhere:5432/airflow")
