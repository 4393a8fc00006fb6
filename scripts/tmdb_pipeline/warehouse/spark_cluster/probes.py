"""Asking the cluster's processes and ports how they are: a port free or taken (and by whom), the master's
JSON (workers ALIVE, cores granted), a Thrift server answering `select 1`."""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.request
from typing import Any

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.warehouse.spark_cluster.daemons import port_holder
from tmdb_pipeline.warehouse.spark_cluster.settings import HOST, Component, Settings


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def check_ports_free(wanted: list[Component]) -> None:
    """Refuse, before anything starts, when a port the cluster needs is taken, naming who has it."""
    taken: list[str] = []
    variables: list[str] = []
    for component in wanted:
        for port, what, variable in component.ports:
            if port_free(port):
                continue
            found = port_holder(port)
            holder = "another process (not one this user can see)"
            if found:
                pid, line = found
                other = re.search(r"(\S+)/spark-cluster/(conf|work)/", line)
                holder = (
                    f"the Spark cluster of {other.group(1)} (PID {pid}; `TMDB_DATA_DIR={other.group(1)} make "
                    "spark-cluster-stop` stops it)"
                    if other
                    else f"PID {pid} ({line[:160] or 'command unknown'})"
                )
            taken.append(f"{HOST}:{port} ({what}, {variable}) is in use by {holder}")
            variables.append(variable)
    if taken:
        raise UserError(
            "The Spark cluster cannot start: "
            + "; ".join(taken)
            + f". Stop what holds it, or choose another port (`{variables[0]}=<port> make spark-cluster`;"
            " set the same variables for the builds and for `make spark-cluster-stop`). Nothing was started."
        )


def master_json(settings: Settings) -> dict[str, Any] | None:
    return fetch_json(f"http://{HOST}:{settings.master_ui_port}/json/")


def fetch_json(url: str, timeout_s: float = 5.0) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None


def running_jobs(settings: Settings) -> int | None:
    """How many Spark jobs the Thrift server runs now (its UI's REST API); None when it cannot tell."""
    base = f"http://{HOST}:{settings.app_ui_port}/api/v1/applications"
    apps = fetch_json(base)
    if not isinstance(apps, list):
        return None
    total = 0
    for app in apps:
        jobs = fetch_json(f"{base}/{app.get('id')}/jobs?status=running")
        if not isinstance(jobs, list):
            return None
        total += len(jobs)
    return total


def master_alive(settings: Settings) -> bool:
    return (master_json(settings) or {}).get("status") == "ALIVE"


def alive_worker_ui_ports(settings: Settings) -> set[int]:
    """The UI ports of the workers the master lists as ALIVE (how a worker is told apart on one host)."""
    ports = set()
    for worker in (master_json(settings) or {}).get("workers", []):
        address = str(worker.get("webuiaddress", ""))
        if worker.get("state") == "ALIVE" and address.rsplit(":", 1)[-1].isdigit():
            ports.add(int(address.rsplit(":", 1)[-1]))
    return ports


def connect_thrift(host: str, port: int, user: str = "tmdb", timeout_s: float = 10.0) -> Any:
    """A PyHive connection (a Thrift session) whose socket gives up after timeout_s, unlike PyHive's own."""
    import thrift_sasl
    from pyhive import hive
    from thrift.transport import TSocket

    sock = TSocket.TSocket(host, port)
    sock.setTimeout(timeout_s * 1000)

    def sasl() -> Any:
        return hive.get_installed_sasl(
            host=host, sasl_auth="PLAIN", service=None, username=user, password="x"
        )

    return hive.connect(thrift_transport=thrift_sasl.TSaslClientTransport(sasl, "PLAIN", sock))


def probe_thrift(host: str, port: int, user: str = "tmdb", timeout_s: float = 10.0) -> str | None:
    """None when a Thrift server at host:port opens a session and answers `select 1`; else why not."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as error:
        return f"nothing accepts connections on {host}:{port} ({error.strerror or error})"
    try:
        connection = connect_thrift(host, port, user, timeout_s)
        try:
            cursor = connection.cursor()
            cursor.execute("select 1")
            answer = cursor.fetchall()
            cursor.close()
        finally:
            connection.close()
    except Exception as error:  # noqa: BLE001 -- any failure of the probe is the answer, told as text
        return f"{host}:{port} did not answer `select 1` ({type(error).__name__}: {str(error)[:200]})"
    return None if answer == [(1,)] else f"{host}:{port} answered `select 1` with {answer!r}"


def catalog_tables(host: str, port: int, schemas: list[str], user: str = "tmdb") -> dict[str, set[str]]:
    """The tables the server's catalog holds in each of these schemas (lower case); a schema the catalog does
    not know is left out of the answer."""
    found: dict[str, set[str]] = {}
    connection = connect_thrift(host, port, user, timeout_s=60)
    try:
        cursor = connection.cursor()
        for schema in schemas:
            try:
                cursor.execute(f"show tables in `{schema}`")
                rows = cursor.fetchall()
            except Exception:  # noqa: BLE001 -- a schema the catalog does not have
                continue
            # (namespace, tableName, isTemporary): temporary views have no folder
            found[schema] = {str(row[1]).lower() for row in rows if not row[2]}
        cursor.close()
    finally:
        connection.close()
    return found
