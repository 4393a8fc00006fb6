# syntax=docker/dockerfile:1
# The TMDB warehouse in containers (docs/containers.md). One Dockerfile, three images:
#
#   docker build -t localhost/tmdb-warehouse .                          `tmdb` + the dashboard (the default)
#   docker build --target spark -t localhost/tmdb-warehouse-spark .     the same + Java 17 and the spark extra
#   docker build --target airflow -t localhost/tmdb-warehouse-airflow . Airflow 3 and Cosmos with the DAG
#   docker build --target postgres -t localhost/tmdb-postgres .         PostgreSQL from Debian's package, for
#                                                                        where the official image cannot be pulled
#
# Every Python package comes from the hashed lock files (requirements/*.txt, orchestration/airflow/
# requirements.lock), as `make` installs them. The dbt project sits read-only at /app; everything the
# pipeline writes goes to /data (a volume), as the user `tmdb` (uid 1000), never root.

# The official slim Python 3.11 image on Debian bookworm, pinned by the digest of its multi-architecture index
# (docs/containers.md says how to move the pin). Where no registry can be reached, any Debian bookworm with
# python3 and its venv module will do: the containers gate builds on one made by debootstrap.
ARG BASE_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

# ---- python-base: the base image with the project's user and folders --------------------------------------
FROM ${BASE_IMAGE} AS python-base
ARG UID=1000
ENV LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN useradd --uid "${UID}" --user-group --create-home --shell /bin/bash tmdb \
    && mkdir -p /app /data \
    && chown tmdb:tmdb /data

# ---- venv: the project's venv, from the lock files (EXTRAS: which extras' lock files on top of the base) --
FROM python-base AS venv
# ml: `tmdb run` trains the box-office model after publishing, in the container as on a checkout
ARG EXTRAS="dashboard ml"
COPY requirements/ /src/requirements/
# pip trusts the build host's CA bundle when one is handed over as the secret pip_cert (a TLS-inspecting
# proxy); without it the mount is empty and pip uses its own. The secret never enters a layer.
RUN --mount=type=secret,id=pip_cert --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
    && python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --quiet --require-hashes -r /src/requirements/pip.txt \
    && /opt/venv/bin/pip install --quiet --require-hashes -r /src/requirements/base.txt \
    && for extra in ${EXTRAS}; do \
         /opt/venv/bin/pip install --quiet --require-hashes -r "/src/requirements/${extra}.txt" || exit 1; \
       done
# The package itself, not editable: the image runs what was built, and finds the dbt project through
# TMDB_PROJECT_DIR. Its source changes more often than the locks, so it comes last.
COPY pyproject.toml README.md /src/
COPY scripts/tmdb_pipeline/ /src/scripts/tmdb_pipeline/
RUN /opt/venv/bin/pip install --quiet --no-deps --no-build-isolation /src \
    && /opt/venv/bin/pip check

# ---- venv-spark: the same venv with the spark extra (pyspark, dbt-spark[session]) --------------------------
FROM venv AS venv-spark
RUN --mount=type=secret,id=pip_cert --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
    && /opt/venv/bin/pip install --quiet --require-hashes -r /src/requirements/spark.txt \
    && /opt/venv/bin/pip check

# ---- airflow-venv: Airflow and Cosmos in a venv of their own (dbt stays in the project's venv) ------------
FROM python-base AS airflow-venv
COPY requirements/pip.txt orchestration/airflow/requirements.lock /src/
RUN --mount=type=secret,id=pip_cert --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
    && python3 -m venv /opt/airflow-venv \
    && /opt/airflow-venv/bin/pip install --quiet --require-hashes -r /src/pip.txt \
    && /opt/airflow-venv/bin/pip install --quiet --require-hashes --no-deps -r /src/requirements.lock

# ---- project: the dbt project and the dashboard at /app, read-only for the user ----------------------------
FROM python-base AS project
COPY dbt_project.yml profiles.yml packages.yml selectors.yml /app/
COPY models/ /app/models/
COPY macros/ /app/macros/
COPY seeds/ /app/seeds/
COPY snapshots/ /app/snapshots/
COPY analyses/ /app/analyses/
COPY tests/dbt/ /app/tests/dbt/
COPY dashboard/ /app/dashboard/
COPY orchestration/airflow/ /app/orchestration/airflow/

# ---- runtime: what the three images share ------------------------------------------------------------------
FROM python-base AS runtime
ENV PATH=/opt/venv/bin:${PATH} \
    TMDB_PROJECT_DIR=/app \
    TMDB_DATA_ROOT=/data \
    TMDB_RUN_ORIGIN=container \
    KAGGLEHUB_CACHE=/data/kagglehub-cache \
    DBT_TARGET_PATH=/data/dbt/target \
    DBT_LOG_PATH=/data/dbt/logs \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false
COPY --from=project /app/ /app/
# Where dbt's packages cannot be had, dbt runs on a view of the project without packages.yml (links,
# written by the user at run time), and DBT_PACKAGES_MIRROR copies them into dbt_packages/: the user
# writes those two; everything else under /app stays root's.
RUN mkdir /app/.dbt_offline /app/dbt_packages && chown tmdb:tmdb /app/.dbt_offline /app/dbt_packages
WORKDIR /app

# ---- spark: the default image plus Java 17 and the spark extra (`tmdb run --target spark`) ----------------
FROM runtime AS spark
# openjdk's post-install step writes man page links, and slim images ship without /usr/share/man
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps \
    && rm -rf /var/lib/apt/lists/*
COPY --from=venv-spark /opt/venv/ /opt/venv/
# dbt's packages (dbt-expectations) from the dbt Hub, where the build can reach it; otherwise the image runs
# without them: their tests are left out and listed in every summary, as on a checkout offline.
RUN DBT_TARGET_PATH=/tmp/dbt-target DBT_LOG_PATH=/tmp/dbt-logs tmdb dbt deps \
    || echo "Building on without the dbt packages: their tests will be listed as skipped."; \
    rm -rf /tmp/dbt-target /tmp/dbt-logs
ENV TMDB_SKIP_DBT_DEPS=1
USER tmdb
# The summary and the exit code are those of `make run TARGET=spark`.
CMD ["tmdb", "run", "--target", "spark"]

# ---- airflow: Airflow 3 and Cosmos with the tmdb_warehouse DAG; its tasks call `tmdb` from /opt/venv ---------
# One image for every Airflow service of compose.yaml (api-server, scheduler, DAG processor, the one-shot
# init), each started through launch.py, which sets the environment the DAG reads. /secrets is where the
# compose stack keeps the passwords it generates on first start (a volume): never a file of the image.
FROM runtime AS airflow
COPY --from=venv /opt/venv/ /opt/venv/
COPY --from=airflow-venv /opt/airflow-venv/ /opt/airflow-venv/
# dbt's packages (dbt-expectations) from the dbt Hub, where the build can reach it; otherwise the image runs
# without them: their tests are left out and listed in every summary, as on a checkout offline.
RUN DBT_TARGET_PATH=/tmp/dbt-target DBT_LOG_PATH=/tmp/dbt-logs tmdb dbt deps \
    || echo "Building on without the dbt packages: their tests will be listed as skipped."; \
    rm -rf /tmp/dbt-target /tmp/dbt-logs
ENV AIRFLOW_HOME=/airflow \
    TMDB_PROJECT_PYTHON=/opt/venv/bin/python \
    TMDB_AIRFLOW_HOST=0.0.0.0 \
    TMDB_SKIP_DBT_DEPS=1
RUN mkdir -p /airflow /secrets && chown tmdb:tmdb /airflow /secrets && chmod 700 /secrets
USER tmdb
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=5 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/api/v2/monitor/health', timeout=4)"]
CMD ["/opt/airflow-venv/bin/python", "/app/orchestration/airflow/launch.py", "standalone", "--port", "8080"]

# ---- postgres: Airflow's metadata database from Debian's postgresql package -----------------------------
# compose.yaml runs the official postgres image by default (POSTGRES_IMAGE); this one stands in for it where
# no registry can be reached, built on the same BASE_IMAGE as the others. Its entrypoint keeps the part of
# the official image's interface compose.yaml uses (POSTGRES_USER, POSTGRES_DB, POSTGRES_PASSWORD_FILE,
# PGDATA at /var/lib/postgresql/data), so the two are interchangeable.
FROM ${BASE_IMAGE} AS postgres
# Debian makes a cluster when the package is installed; the entrypoint makes one in the volume instead
RUN mkdir -p /etc/postgresql-common/createcluster.d \
    && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/tmdb.conf \
    && apt-get update \
    && apt-get install -y --no-install-recommends postgresql \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s /usr/lib/postgresql/*/bin /usr/local/lib/postgresql-bin
COPY orchestration/postgres/entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/local/lib/postgresql-bin:${PATH} \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
# the official image's choice: SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every client)
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["postgres"]

# ---- app (the default): `tmdb` and the dashboard ----------------------------------------------------------
FROM runtime AS app
COPY --from=venv /opt/venv/ /opt/venv/
# dbt's packages (dbt-expectations) from the dbt Hub, where the build can reach it; otherwise the image runs
# without them: their tests are left out and listed in every summary, as on a checkout offline.
RUN DBT_TARGET_PATH=/tmp/dbt-target DBT_LOG_PATH=/tmp/dbt-logs tmdb dbt deps \
    || echo "Building on without the dbt packages: their tests will be listed as skipped."; \
    rm -rf /tmp/dbt-target /tmp/dbt-logs
# At run time the image never reaches for the dbt Hub: what it runs is what was built.
ENV TMDB_SKIP_DBT_DEPS=1
USER tmdb
# `tmdb dashboard --host 0.0.0.0 --port 8501` serves here; its healthcheck is in compose.yaml, as this
# image mostly runs the one-shot pipeline, which a healthcheck would call unhealthy.
EXPOSE 8501
CMD ["tmdb", "run"]
