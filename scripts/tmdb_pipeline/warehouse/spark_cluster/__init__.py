"""A local Spark cluster for the `spark-thrift` target: `tmdb spark-cluster start|stop|status`
(`make spark-cluster`, `make spark-cluster-stop`).

What a team that outgrows one machine runs, in miniature and on 127.0.0.1 only: a standalone master, two
workers (each its own JVM, each lending the cluster one core and 1 GiB for one executor) and a Spark Thrift
server submitted to that master as an application. dbt talks to the Thrift server (dbt-spark's `thrift`
method); the server plans each statement and the executors on the workers run it, shuffling between them.
Everything comes from the pyspark wheel of the `spark` extra (`bin/spark-class`, `bin/spark-submit`, the
master, worker and Thrift server jars) and the machine's Java 17.

A cluster belongs to one data folder (the one staged last, or TMDB_DATA_DIR), like its DuckDB file and its
session-mode Spark tables, so runs on different data never share a catalog. It keeps everything under
`<data dir>/spark-cluster/`: `state.json` (what was started: each process's id, start time and boot, so that
`stop` stops exactly what `start` started, never a process that merely got a recycled id), `logs/` (one per
process), `work/` (the workers' executor folders), `local/` (shuffle files), `conf/` (the settings each
process was given), `warehouse/` (the tables) and `metastore_db/` (the catalog, embedded Derby, held by the
Thrift server alone).

Ports come from the environment, with defaults chosen to stay clear of the usual ones (8080, 7077 and 4040
are often taken): `settings.Settings`. A port already in use is refused before anything starts, naming its
holder. Starting a running cluster says so; starting a cluster with some processes down starts just those
(a stopped worker or Thrift server comes back).

Modules: `settings` (ports, sizes, the processes), `launch` (prerequisites, command lines, environments,
the files under conf/), `daemons` (recording, recognising and stopping a started process), `probes` (ports,
the master's JSON, the Thrift server's `select 1`), `cluster` (start, stop, status).
"""

from tmdb_pipeline.warehouse.spark_cluster.cluster import (
    FOLDER,
    SparkCluster,
    clusters_under,
    command,
    stop_all_under,
)
from tmdb_pipeline.warehouse.spark_cluster.probes import master_json, probe_thrift
from tmdb_pipeline.warehouse.spark_cluster.settings import HOST, Settings, components

__all__ = [
    "FOLDER",
    "HOST",
    "Settings",
    "SparkCluster",
    "clusters_under",
    "command",
    "components",
    "master_json",
    "probe_thrift",
    "stop_all_under",
]
