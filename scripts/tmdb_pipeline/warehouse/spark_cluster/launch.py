"""What each process of the local cluster is started with: the prerequisites (pyspark's spark-class, Java 17,
the Thrift client), its command line, its environment, and the files written into `conf/` and `jars/`
before it starts."""

from __future__ import annotations

import importlib.util
import os
import struct
import sys
import zipfile
from pathlib import Path

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.warehouse import spark
from tmdb_pipeline.warehouse.spark_cluster.settings import HOST, Component, Settings

THRIFT_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
APP_NAME = "tmdb Thrift server"  # the application the master lists, with the data folder after it
THRIFT_INSTALL_HINT = (
    "make venv-spark-thrift (or: .venv/bin/pip install --require-hashes -r requirements/spark-thrift.txt)"
)
# Spark 4 no longer ships hive-llap-common (SPARK-51029), yet Hive's FunctionRegistry, which the Thrift
# server initialises when it closes a client's session on a thread that has not used Hive yet, names one of
# its interfaces. Without it that session close fails ("NoClassDefFoundError: .../LlapSigner$Signable",
# reported to dbt as a failed node), and Hive's function registration, left half-done, makes later closes
# wait forever. The interface is empty and nothing calls it (it serves Hive's LLAP daemons, which Spark
# never uses), so the server gets an empty interface of that name on its class path, written at start.
LLAP_SHIM_CLASS = "org/apache/hadoop/hive/llap/security/LlapSigner$Signable"
LLAP_SHIM_JAR = "hive-llap-signable-shim.jar"


# --------------------------------------------------------------------------------------------------------
# Prerequisites


def spark_home() -> Path:
    """The pyspark package folder, which holds bin/spark-class and the jars."""
    if not Path("/proc/self/stat").is_file():
        raise UserError(
            "The local Spark cluster runs on Linux only: it tells its processes from others through /proc. "
            "Elsewhere, build on an existing Thrift server (TMDB_SPARK_THRIFT_HOST) or on the `spark` target."
        )
    try:
        found = importlib.util.find_spec("pyspark")
    except ModuleNotFoundError:
        found = None
    if found is None or found.origin is None:
        raise UserError(
            "The local Spark cluster runs on the `spark` extra's pyspark, which is not installed: run "
            f"`{spark.INSTALL_HINT}`."
        )
    home = Path(found.origin).parent
    if not (home / "bin" / "spark-class").is_file():
        raise UserError(f"{home} has no bin/spark-class: reinstall pyspark (`{spark.INSTALL_HINT}`).")
    return home


def java_for_spark() -> str:
    java = spark.java_executable()
    major = spark.java_major_version(java) if java else None
    if java is None or major is None or major < spark.MIN_JAVA:
        found = f"{java}, version {major or 'unknown'}" if java else "no `java` on PATH and no JAVA_HOME"
        raise UserError(
            f"The Spark cluster needs Java {spark.MIN_JAVA} or newer (found: {found}); Debian/Ubuntu: "
            "`apt-get install openjdk-17-jre-headless`, or point JAVA_HOME at one."
        )
    return java


def require_thrift_client() -> None:
    missing = [
        m for m in ("pyhive", "thrift", "thrift_sasl", "puresasl") if importlib.util.find_spec(m) is None
    ]
    if missing:
        raise UserError(
            f"The Thrift client ({', '.join(missing)}) is not installed: run `{THRIFT_INSTALL_HINT}`."
        )


# --------------------------------------------------------------------------------------------------------
# The files, command lines and environments


def lay_out(root: Path, settings: Settings) -> None:
    """The cluster's folders, and the files its processes read: conf/ and the LLAP shim."""
    for folder in ("logs", "work", "local", "conf", "jars", "hive", "warehouse"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    conf = root / "conf"
    (conf / "log4j2.properties").write_text(LOG4J2, encoding="utf-8")
    (conf / "master.conf").write_text(
        "# The master of the local cluster (tmdb spark-cluster start).\n"
        "# No REST submission server: nothing is submitted but the Thrift server, through spark-submit.\n"
        "spark.master.rest.enabled false\n",
        encoding="utf-8",
    )
    (conf / "worker.conf").write_text(
        "# A worker of the local cluster (tmdb spark-cluster start).\n"
        "# Executor folders (their logs) are kept until the cluster's folder is removed.\n"
        "spark.worker.cleanup.enabled false\n",
        encoding="utf-8",
    )
    (conf / "thrift.conf").write_text(
        "# The Thrift server of the local cluster (tmdb spark-cluster start). The settings dbt gives its\n"
        "# in-process session on the `spark` target (profiles.yml) are the server's own here.\n"
        + "".join(f"{key} {value}\n" for key, value in thrift_conf(root, settings).items()),
        encoding="utf-8",
    )
    write_llap_shim(root / "jars" / LLAP_SHIM_JAR)


def thrift_conf(root: Path, settings: Settings) -> dict[str, str]:
    return {
        "spark.sql.warehouse.dir": str(root / "warehouse"),
        # Derby resolves databaseName against derby.system.home: the cluster's folder (see command())
        "spark.hadoop.javax.jdo.option.ConnectionURL": "jdbc:derby:;databaseName=metastore_db;create=true",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.sources.default": "parquet",
        "spark.sql.legacy.createHiveTableByDefault": "false",
        "spark.sql.legacy.timeParserPolicy": "CORRECTED",
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        # A build stopped while a table was being written leaves its folder without a catalog entry; the
        # next build's CREATE TABLE AS SELECT then replaces that folder's contents instead of refusing to
        # run (LOCATION_ALREADY_EXISTS), so the build after a lost server completes.
        "spark.sql.legacy.allowNonEmptyLocationInCTAS": "true",
        "spark.local.dir": str(root / "local"),
        "spark.ui.port": str(settings.app_ui_port),
        "spark.ui.showConsoleProgress": "false",
        "spark.port.maxRetries": "0",  # a taken port is an error, not a silent move to the next one
    }


def command(root: Path, label: str, component: Component, settings: Settings, home: Path) -> list[str]:
    """The process's command line. Each names a path under `root`, which is how its process is recognised
    as the cluster's (daemons.Daemon.marker)."""
    spark_class = str(home / "bin" / "spark-class")
    conf = root / "conf"
    if component.kind == "master":
        return [
            spark_class,
            MASTER_CLASS,
            *("--host", HOST, "--port", str(settings.master_port)),
            *("--webui-port", str(settings.master_ui_port)),
            *("--properties-file", str(conf / "master.conf")),
        ]
    if component.kind == "worker":
        work = root / "work" / component.name
        work.mkdir(parents=True, exist_ok=True)
        return [
            spark_class,
            WORKER_CLASS,
            *("--host", HOST, "--webui-port", str(component.ui_port)),
            *("--cores", str(settings.worker_cores), "--memory", settings.worker_memory),
            *("--work-dir", str(work), "--properties-file", str(conf / "worker.conf")),
            f"spark://{HOST}:{settings.master_port}",
        ]
    hive = root / "hive"
    hive_settings = {
        "hive.server2.thrift.port": str(settings.thrift_port),
        "hive.server2.thrift.bind.host": HOST,
        # Hive's session folders, otherwise under /tmp/<user>/
        "hive.exec.scratchdir": str(hive / "scratch"),
        "hive.exec.local.scratchdir": str(hive / "local"),
        # one folder per session, as Hive's default has it: a session deletes its own when it closes
        "hive.downloaded.resources.dir": str(hive / "${hive.session.id}_resources"),
        "hive.server2.logging.operation.log.location": str(hive / "operation_logs"),
    }
    return [
        str(home / "bin" / "spark-submit"),
        *("--class", THRIFT_CLASS, "--name", f"{APP_NAME} ({label})"),
        *("--master", f"spark://{HOST}:{settings.master_port}"),
        *("--driver-memory", settings.thrift_memory, "--executor-memory", settings.executor_memory),
        *("--executor-cores", str(settings.worker_cores)),
        *("--total-executor-cores", str(settings.total_cores)),
        *("--driver-class-path", str(root / "jars" / LLAP_SHIM_JAR)),
        *("--driver-java-options", f"-Dderby.system.home={root} -Dtmdb.spark.component=thrift"),
        *("--properties-file", str(conf / "thrift.conf")),
        *[arg for key, value in hive_settings.items() for arg in ("--hiveconf", f"{key}={value}")],
    ]


def environment(
    root: Path, component: Component, settings: Settings, home: Path, java: str
) -> dict[str, str]:
    # A SPARK_HOME or SPARK_CONF_DIR of the caller's would make spark-class run another Spark, or read
    # other settings: the cluster's processes get only their own.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_"))}
    env.update(
        SPARK_HOME=str(home),
        SPARK_CONF_DIR=str(root / "conf"),
        SPARK_LOCAL_IP=HOST,
        SPARK_PUBLIC_DNS=HOST,  # the UIs link to each other by this name
        SPARK_LOCAL_DIRS=str(root / "local"),
        # spark-submit sizes the Thrift server's heap by SPARK_DAEMON_MEMORY, like a daemon's
        SPARK_DAEMON_MEMORY=settings.thrift_memory if component.kind == "thrift" else settings.daemon_memory,
        SPARK_DAEMON_JAVA_OPTS=f"-Dtmdb.spark.component={component.name}",
        JAVA_HOME=str(Path(java).resolve().parents[1]),
        PYSPARK_PYTHON=sys.executable,
    )
    return env


def write_llap_shim(jar: Path) -> None:
    """A jar holding one empty public interface, LLAP_SHIM_CLASS (class file version 52, Java 8)."""

    def utf8(text: str) -> bytes:
        data = text.encode()
        return struct.pack(">BH", 1, len(data)) + data

    # constant pool: #1 the name, #2 its class, #3 "java/lang/Object", #4 its class
    pool = [
        utf8(LLAP_SHIM_CLASS),
        struct.pack(">BH", 7, 1),
        utf8("java/lang/Object"),
        struct.pack(">BH", 7, 3),
    ]
    public_abstract_interface = 0x0001 | 0x0200 | 0x0400
    class_file = (
        struct.pack(">IHHH", 0xCAFEBABE, 0, 52, len(pool) + 1)
        + b"".join(pool)
        # access, this class, super class, then no interfaces, fields, methods or attributes
        + struct.pack(">HHHHHHH", public_abstract_interface, 2, 4, 0, 0, 0, 0)
    )
    tmp = jar.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        archive.writestr(f"{LLAP_SHIM_CLASS}.class", class_file)
    tmp.replace(jar)


LOG4J2 = """\
# Logging of the local Spark cluster's processes (tmdb spark-cluster start writes this file): INFO into
# each process's log under logs/, with the routine per-statement noise of the metastore left out. Lost
# executors, re-run tasks and the statements the Thrift server runs stay in.
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = console

appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex

logger.audit.name = org.apache.hadoop.hive.metastore.HiveMetaStore.audit
logger.audit.level = warn
logger.metastore.name = org.apache.hadoop.hive.metastore
logger.metastore.level = warn
logger.hmshandler.name = org.apache.hadoop.hive.metastore.RetryingHMSHandler
logger.hmshandler.level = fatal
logger.hiveconf.name = org.apache.hadoop.hive.conf.HiveConf
logger.hiveconf.level = error
logger.datanucleus.name = DataNucleus
logger.datanucleus.level = warn
logger.fileindex.name = org.apache.spark.sql.execution.datasources.InMemoryFileIndex
logger.fileindex.level = warn
logger.codegen.name = org.apache.spark.sql.execution.adaptive
logger.codegen.level = warn
logger.blockmanager.name = org.apache.spark.storage
logger.blockmanager.level = warn
logger.nativecode.name = org.apache.hadoop.util.NativeCodeLoader
logger.nativecode.level = error
"""
