"""The `spark-thrift` target: dbt-spark's `thrift` method, against a Spark Thrift server.

By default the server is the local cluster of the data folder being built (`make spark-cluster`,
tmdb_pipeline.warehouse.spark_cluster): 127.0.0.1, port TMDB_SPARK_THRIFT_PORT (10000). Setting
TMDB_SPARK_THRIFT_HOST points the target at another server (an existing cluster); then the cluster's
settings, catalog and tables are that server's business, and the landing zone must be readable by its
executors at the path dbt declares it with (TMDB_LANDING_DIR), as it is on one machine.

What differs from the in-process `spark` target: the catalog, warehouse folder and session settings are
the server's (its start-up --conf), not the profile's; the server, not dbt, holds the embedded Derby
metastore, so any number of dbt runs may connect (one builds at a time: the pipeline's run lock); and the
connection can be lost mid-build, which `failure_hint` recognises and explains, naming the endpoint.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.warehouse.spark import ensure_staged, missing_packages
from tmdb_pipeline.warehouse.spark_cluster import HOST, Settings, SparkCluster, probe_thrift
from tmdb_pipeline.warehouse.spark_cluster.launch import THRIFT_INSTALL_HINT, require_thrift_client
from tmdb_pipeline.warehouse.spark_cluster.probes import catalog_tables, running_jobs
from tmdb_pipeline.workspace import Workspace

log = logging.getLogger(__name__)

# What a lost Thrift connection looks like in dbt's log (thrift's and dbt-spark's wording), the most telling
# first. A server that answers with an error (it refused a session, a statement failed) is not one.
CONNECTION_LOST = (
    "TSocket read 0 bytes",
    "Could not connect to any of",
    "Connection refused",
    "Connection reset",
    "Broken pipe",
    "TTransportException",
    "Connection lost while polling",
)


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    user: str
    local: bool  # the local cluster of `make spark-cluster`, not a server named by TMDB_SPARK_THRIFT_HOST

    @classmethod
    def from_env(cls) -> Endpoint:
        host = os.environ.get("TMDB_SPARK_THRIFT_HOST", "").strip()
        raw_port = os.environ.get("TMDB_SPARK_THRIFT_PORT", "").strip() or str(Settings.thrift_port)
        if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
            raise UserError(f"TMDB_SPARK_THRIFT_PORT={raw_port!r} is not a port number (1 to 65535).")
        user = os.environ.get("TMDB_SPARK_THRIFT_USER", "").strip() or "tmdb"
        return cls(host or HOST, int(raw_port), user, local=not host)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def local_tables_dir(workspace: Workspace) -> Path | None:
    """Where the local cluster keeps its tables as parquet folders (what publishing reads); None when the
    endpoint is another server, whose files are out of this machine's reach."""
    return SparkCluster(workspace).warehouse if Endpoint.from_env().local else None


def remove_orphaned_table_folders(warehouse: Path, endpoint: Endpoint) -> list[str]:
    """Remove the table folders of the cluster's warehouse that its catalog does not know; their names.

    A build stopped while Spark was writing a table (the Thrift server lost, `CREATE TABLE AS SELECT` half
    done) leaves the folder without a catalog entry: Spark writes the files first and records the table
    last. The next build's CREATE TABLE of that name then fails with LOCATION_ALREADY_EXISTS ("remove the
    existing location first"), however often it runs. Only folders of schemas the catalog lists are looked
    at, and only where the catalog has no table of that name; the local cluster's warehouse alone, never
    another server's.
    """
    schemas = sorted(
        p.name.removesuffix(".db")
        for p in warehouse.glob("*.db")
        if p.is_dir() and re.fullmatch(r"[a-z0-9_]+", p.name.removesuffix(".db"))
    )
    if not schemas:
        return []
    listed = catalog_tables(endpoint.host, endpoint.port, schemas, endpoint.user)
    removed = []
    for schema, tables in listed.items():
        for folder in sorted((warehouse / f"{schema}.db").iterdir()):
            if folder.is_dir() and folder.name.lower() not in tables:
                shutil.rmtree(folder)
                removed.append(f"{schema}.db/{folder.name}")
    return removed


class SparkThrift:
    name = "spark-thrift"

    def prepare(self, workspace: Workspace) -> None:
        ensure_staged(workspace)
        missing = [name for name in missing_packages() if name != "pyspark"]  # a client needs no pyspark
        if missing:
            raise UserError(
                f"Cannot build on a Spark Thrift server: {', '.join(missing)} is not installed. Run "
                f"`{THRIFT_INSTALL_HINT}`."
            )
        require_thrift_client()
        endpoint = Endpoint.from_env()
        if endpoint.local:
            self._require_local_cluster(workspace, endpoint)
        elif why := probe_thrift(endpoint.host, endpoint.port, endpoint.user):
            raise UserError(
                f"The Spark Thrift server at {endpoint} (TMDB_SPARK_THRIFT_HOST / TMDB_SPARK_THRIFT_PORT) "
                f"cannot be used: {why}. Check that it runs and that this machine may reach it; unset "
                "TMDB_SPARK_THRIFT_HOST to build on the local cluster of `make spark-cluster` instead."
            )

    def _require_local_cluster(self, workspace: Workspace, endpoint: Endpoint) -> None:
        cluster = SparkCluster(workspace)
        if not cluster.thrift_running():
            serving = [
                other for other in cluster.others_running() if other.settings().thrift_port == endpoint.port
            ]
            if serving:
                raise UserError(
                    f"The Spark Thrift server on {endpoint} is the cluster of {serving[0].label()}, not of "
                    f"{workspace.relative()}, the data folder being built (a cluster serves the catalog and "
                    f"tables of one data folder). Stop it (`TMDB_DATA_DIR={serving[0].label()} make "
                    "spark-cluster-stop`) and start this one's (`make spark-cluster`), then build again."
                )
            raise UserError(
                f"No Spark cluster of {workspace.relative()} is running, so nothing answers on {endpoint}. "
                "Start it with `make spark-cluster` (a master, two workers and a Thrift server on 127.0.0.1; "
                "about a minute), then build again; `make spark-cluster-stop` stops it. To build on another "
                "Thrift server, set TMDB_SPARK_THRIFT_HOST (and TMDB_SPARK_THRIFT_PORT)."
            )
        if cluster.settings().thrift_port != endpoint.port:
            raise UserError(
                f"The Spark cluster of {workspace.relative()} serves port {cluster.settings().thrift_port}, "
                f"but TMDB_SPARK_THRIFT_PORT asks for {endpoint.port}: set the same port for the cluster and "
                "the builds."
            )
        if why := probe_thrift(endpoint.host, endpoint.port, endpoint.user):
            raise UserError(
                f"The Thrift server of the local Spark cluster does not answer on {endpoint}: {why}. "
                "`tmdb spark-cluster status` shows how the cluster stands and where its logs are; "
                "`make spark-cluster-stop` then `make spark-cluster` starts it afresh."
            )
        # Not while the server writes: a table being created has no catalog entry yet either.
        busy = running_jobs(cluster.settings())
        removed = remove_orphaned_table_folders(cluster.warehouse, endpoint) if busy == 0 else []
        if removed:
            log.info(
                f"Spark: removed {len(removed)} table folder(s) that a build stopped halfway left without a "
                f"catalog entry ({', '.join(removed)}): Spark refuses to create a table over such a folder."
            )

    def env(self, workspace: Workspace) -> dict[str, str]:
        """The endpoint prepare() checked, so that dbt connects to exactly that one."""
        endpoint = Endpoint.from_env()
        return {"TMDB_SPARK_THRIFT_HOST": endpoint.host, "TMDB_SPARK_THRIFT_PORT": str(endpoint.port)}

    def state(self, workspace: Workspace) -> list[Any]:
        """The local cluster's table folders; for another server, only its address (its tables are out of
        sight: the build stamp then trusts the last green build on that endpoint)."""
        endpoint = Endpoint.from_env()
        if not endpoint.local:
            return [f"thrift://{endpoint}"]
        root = SparkCluster(workspace).warehouse
        if not root.is_dir():
            return []
        return sorted(str(p.relative_to(root)) for p in root.glob("*/*") if p.is_dir())

    def failure_hint(self, workspace: Workspace, build_log: str) -> str | None:
        """When this build's part of dbt's log shows the Thrift connection lost, say so, naming the endpoint,
        what it leaves behind and what to do."""
        logged = build_log.splitlines()
        found = next(
            (line[line.find(sign) :].strip() for sign in CONNECTION_LOST for line in logged if sign in line),
            None,
        )
        if found is None:
            return None
        endpoint = Endpoint.from_env()
        lines = [
            f"The Spark Thrift server at {endpoint} stopped answering during the build (dbt: {found[:160]}).",
            "The build did not finish: it is not recorded as a green build, so the next run builds again;"
            " until then the tables it was writing may be incomplete.",
        ]
        if endpoint.local:
            cluster = SparkCluster(workspace)
            state = "is not running now" if not cluster.thrift_running() else "runs again now"
            lines.append(
                f"The local cluster's Thrift server {state} (its log: {cluster.log('thrift')}). `make "
                "spark-cluster` starts what is down, then `make build TARGET=spark-thrift` builds again."
            )
        else:
            lines.append("Check the server and the network to it, then build again.")
        return "\n".join(lines)

    def warehouse_label(self, workspace: Workspace) -> str:
        endpoint = Endpoint.from_env()
        if not endpoint.local:
            return f"the Spark Thrift server at {endpoint} (its own warehouse and catalog)"
        cluster = SparkCluster(workspace)
        return (
            f"{cluster.warehouse} (Spark tables behind the Thrift server {endpoint}; catalog: metastore_db/)"
        )
