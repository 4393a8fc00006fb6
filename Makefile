# Every command a contributor, CI (.ci/run) and the GitHub workflows run goes through these targets. Each one
# calls the project's one command, `tmdb`, or the contributors' tooling (`python -m tmdb_devtools`), both of
# which the first target to need them installs into .venv (the package, editable, with its dependencies at the
# exact versions and hashes of requirements/*.txt).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
TMDB := $(BIN)/tmdb
# The contributors' tooling (gates, benchmark): scripts/tmdb_devtools, importable from the editable install,
# not part of the package's wheel.
DEVTOOLS := $(PY) -m tmdb_devtools
# Where the data comes from: auto (Kaggle when credentials are found, else the sample), sample, kaggle, or a folder.
SOURCE ?= auto
# dbt target: duckdb (default), spark (in-process) or spark-thrift (a Spark Thrift server: make spark-cluster).
TARGET ?= duckdb
DOCS_PORT ?= 8080
# `make dashboard` serves the dashboard on 127.0.0.1:$(DASHBOARD_PORT).
DASHBOARD_PORT ?= 8501
# Gates `make test` leaves out, comma-separated: CI's main job sets SKIP_GATES=spark,airflow,containers and
# runs those as jobs of their own. WITH_GATES adds opt-in gates (spark-cluster), as .ci/run does.
SKIP_GATES ?=
WITH_GATES ?=
BENCH_ARGS ?=
FIGURES_ARGS ?=
# `make ml-report`: the folder of the real-data sample whose model card docs/ml.md shows.
REAL_SAMPLE ?=
# `make faults`: the fault campaign's options (python -m tmdb_devtools faults --help), e.g. --count 20 --seed 7
FAULTS_ARGS ?=
GROWTH_ARGS ?=
comma := ,
skipped = $(filter $(1),$(subst $(comma), ,$(SKIP_GATES)))
# Airflow lives in a venv of its own (Airflow and dbt do not share one), see the Airflow section at the end;
# so does podman-compose, for the containers gate (the Containers section). Defined before TEST_EXTRAS,
# which expands them at once.
AIRFLOW_VENV ?= .venv-airflow
CONTAINERS_VENV ?= .venv-containers
# The extras a target needs on top of the base install: Spark for TARGET=spark and for the spark gate.
TARGET_EXTRAS := $(if $(filter spark,$(TARGET)),$(BIN)/.installed-spark)
TARGET_EXTRAS += $(if $(filter spark-thrift,$(TARGET)),$(BIN)/.installed-spark-thrift)
TEST_EXTRAS := $(BIN)/.installed-dev $(BIN)/.installed-bench $(BIN)/.installed-ml $(if $(call skipped,spark),,$(BIN)/.installed-spark) \
	$(if $(call skipped,dashboard),,$(BIN)/.installed-dashboard) \
	$(if $(call skipped,airflow),,$(AIRFLOW_VENV)/.requirements-installed) \
	$(if $(call skipped,containers),,$(CONTAINERS_VENV)/.requirements-installed) \
	$(if $(filter spark-cluster,$(subst $(comma), ,$(WITH_GATES))),$(BIN)/.installed-spark $(BIN)/.installed-spark-thrift)

.PHONY: help venv venv-dev venv-spark venv-bench venv-dashboard venv-ml lock run ml ml-report stage build test test-spark lint docs \
	dashboard screenshots hooks bench bench-growth figures clean airflow-venv airflow airflow-test test-airflow airflow-lock \
	containers-venv test-containers containers-lock faults venv-spark-thrift spark-cluster spark-cluster-stop \
	test-spark-cluster

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# The base install: pip itself (older pips reject a hashed lock naming an extra), the locked dependencies,
# then the package, editable, so that `tmdb` runs the code in scripts/.
$(BIN)/.installed-base: requirements/pip.txt requirements/base.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements/pip.txt
	$(PY) -m pip install --quiet --require-hashes -r requirements/base.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation --editable .
	@touch $@

# An extra (dev, spark, bench): its lock file holds the base dependencies too, at the same versions.
$(BIN)/.installed-%: requirements/%.txt $(BIN)/.installed-base
	$(PY) -m pip install --quiet --require-hashes -r $<
	@touch $@

venv: $(BIN)/.installed-base ## Create .venv with `tmdb` and its locked dependencies (done by every target on first use)
venv-dev: $(BIN)/.installed-dev ## Add the gates' tools (sqlfluff, ruff, pytest, dbt-bouncer, ...)
venv-spark: $(BIN)/.installed-spark ## Add the Spark target (pyspark, dbt-spark; ~630 MB; needs Java 17)
venv-bench: $(BIN)/.installed-bench ## Add the benchmark's pandas and psutil
venv-dashboard: $(BIN)/.installed-dashboard ## Add the dashboard's Streamlit and Altair
venv-ml: $(BIN)/.installed-ml ## Add the ML step's scikit-learn and MLflow

lock: $(BIN)/.installed-dev ## Re-resolve every dependency (uv.lock) and export requirements/*.txt from it
	UV_SYSTEM_CERTS=1 $(BIN)/uv lock
	UV_SYSTEM_CERTS=1 $(BIN)/uv export --quiet --frozen --no-emit-project --only-group pip --no-header --no-annotate -o requirements/pip.txt
	for set in base dev spark spark-thrift bench dashboard ml; do \
	  UV_SYSTEM_CERTS=1 $(BIN)/uv export --quiet --frozen --no-emit-project --no-dev --group build \
	    $$([ $$set = base ] || echo --extra $$set) --no-header --no-annotate -o requirements/$$set.txt || exit 1; \
	done

run: venv $(BIN)/.installed-ml $(TARGET_EXTRAS) ## Stage the data (SOURCE=...), build + test the warehouse (TARGET=...), publish, train the model; print a summary
	$(TMDB) run --source "$(SOURCE)" --target "$(TARGET)"

ml: venv $(BIN)/.installed-ml ## Train the box-office model on the published marts again (docs/ml.md)
	$(TMDB) ml

ml-report: venv $(BIN)/.installed-dev $(BIN)/.installed-ml ## Run the pipeline on REAL_SAMPLE, keep its model card in docs/results/ml-real-sample.json, render docs/ml.md
	$(DEVTOOLS) ml-report --source "$(REAL_SAMPLE)"

stage: venv ## Get the data (SOURCE=auto|sample|kaggle|<folder>) and stage it into the landing zone
	$(TMDB) stage --source "$(SOURCE)"

build: venv $(TARGET_EXTRAS) ## dbt build (every model, snapshot, seed, test) on what was staged last
	$(TMDB) build --target "$(TARGET)"

test: venv $(TEST_EXTRAS) ## Every gate: sqlfluff, ruff, conventions, workflows, pytest, dbt build, catalog, dashboard, faults, spark; airflow, containers beside them (SKIP_GATES=..., WITH_GATES=...)
	$(DEVTOOLS) test $(if $(SKIP_GATES),--skip "$(SKIP_GATES)") $(if $(WITH_GATES),--with "$(WITH_GATES)")

test-spark: venv $(BIN)/.installed-dev $(BIN)/.installed-spark ## The spark gate alone: the models built on DuckDB and Spark, compared
	$(DEVTOOLS) test --only spark

lint: venv $(BIN)/.installed-dev ## The static gates only (sqlfluff, ruff, conventions, workflows)
	$(DEVTOOLS) test --only static

docs: venv ## Generate the dbt docs and serve them on localhost:$(DOCS_PORT)
	$(TMDB) docs --port "$(DOCS_PORT)"

dashboard: venv $(BIN)/.installed-dashboard ## Serve the dashboard of the published marts on 127.0.0.1:$(DASHBOARD_PORT) (after make run)
	$(TMDB) dashboard --port "$(DASHBOARD_PORT)"

screenshots: venv $(BIN)/.installed-dev $(BIN)/.installed-dashboard ## Browser test of the dashboard; its Overview becomes docs/images/dashboard.png
	rm -rf target/screenshots-readme
	TMDB_SCREENSHOT_DIR=target/screenshots-readme $(PY) -m pytest tests/python/test_dashboard_browser.py -q
	mkdir -p docs/images && cp target/screenshots-readme/overview.png docs/images/dashboard.png

hooks: venv $(BIN)/.installed-dev ## Install the pre-commit git hook
	$(BIN)/pre-commit install

faults: venv $(BIN)/.installed-dev ## Fault campaign: 100 random faults over whole runs, invariants checked; writes docs/results/faults.json (FAULTS_ARGS=...)
	$(DEVTOOLS) faults $(FAULTS_ARGS)

bench: venv $(BIN)/.installed-bench $(BIN)/.installed-ml ## Full-size benchmark; writes docs/performance.json and renders the docs' figures (BENCH_ARGS=...)
	$(DEVTOOLS) bench $(BENCH_ARGS)

figures: venv ## Render the docs' measured figures from the results files (FIGURES_ARGS=--check: exit 1 when stale)
	$(DEVTOOLS) figures $(FIGURES_ARGS)
bench-growth: venv $(BIN)/.installed-bench $(BIN)/.installed-dev $(BIN)/.installed-dashboard airflow-venv ## make run at 0.25x, 1x, 2x, 4x the full dataset; writes docs/results/growth.json and docs/images/growth.png (GROWTH_ARGS=...)
	$(DEVTOOLS) bench-growth $(GROWTH_ARGS)

# --- Airflow: the tmdb_warehouse DAG (orchestration/airflow/, docs/airflow.md) ---------------------------------
# Its own venv from a hashed lock file; its tasks call `tmdb` from .venv.
AIRFLOW_PY := $(AIRFLOW_VENV)/bin/python
AIRFLOW_LOCK := orchestration/airflow/requirements.lock
AIRFLOW_PORT ?= 8080
AIRFLOW_ENV := AIRFLOW_HOME="$(CURDIR)/data/airflow" TMDB_PROJECT_PYTHON="$(CURDIR)/$(PY)"

$(AIRFLOW_VENV)/.requirements-installed: $(AIRFLOW_LOCK)
	@test -x $(AIRFLOW_PY) || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_PY) -m pip install --quiet --require-hashes -r requirements/pip.txt
	$(AIRFLOW_PY) -m pip install --quiet --require-hashes --no-deps -r $(AIRFLOW_LOCK)
	@touch $@

airflow-venv: $(AIRFLOW_VENV)/.requirements-installed ## Create .venv-airflow (Airflow + Cosmos, pinned with hashes)

airflow: venv airflow-venv ## Airflow's UI on http://127.0.0.1:8080 (AIRFLOW_PORT=...), standalone, state in data/airflow
	$(AIRFLOW_ENV) $(AIRFLOW_PY) orchestration/airflow/launch.py standalone --port "$(AIRFLOW_PORT)"

airflow-test: venv airflow-venv ## One run of the DAG end to end on the sample, no server (airflow dags test)
	$(AIRFLOW_ENV) $(AIRFLOW_PY) orchestration/airflow/launch.py test --source sample

test-airflow: venv $(BIN)/.installed-dev airflow-venv ## The airflow gate alone: tests/airflow (DAG shape, runs, failure, UI screenshot)
	$(DEVTOOLS) test --only airflow

airflow-lock: ## Recompile orchestration/airflow/requirements.lock from requirements.in (needs PyPI)
	@test -x $(AIRFLOW_VENV)-lock/bin/uv || ($(PYTHON) -m venv $(AIRFLOW_VENV)-lock && $(AIRFLOW_VENV)-lock/bin/pip install --quiet uv==0.13.8)
	$(AIRFLOW_VENV)-lock/bin/uv pip compile orchestration/airflow/requirements.in --generate-hashes \
		--python-version 3.11 --python-platform x86_64-unknown-linux-gnu -o $(AIRFLOW_LOCK)

# --- Containers: the image (Dockerfile) and compose.yaml (docs/containers.md) --------------------------------
# compose.yaml runs with podman-compose here (no Docker Engine), from a venv of its own and a hashed lock.
CONTAINERS_LOCK := tests/containers/requirements.lock

$(CONTAINERS_VENV)/.requirements-installed: $(CONTAINERS_LOCK) requirements/pip.txt
	@test -x $(CONTAINERS_VENV)/bin/python || $(PYTHON) -m venv $(CONTAINERS_VENV)
	$(CONTAINERS_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements/pip.txt
	$(CONTAINERS_VENV)/bin/python -m pip install --quiet --require-hashes --no-deps -r $(CONTAINERS_LOCK)
	@touch $@

containers-venv: $(CONTAINERS_VENV)/.requirements-installed ## Create .venv-containers (podman-compose, pinned with hashes)

test-containers: venv $(BIN)/.installed-dev containers-venv ## The containers gate alone: build the image, run the pipeline and dashboard in it, scan it
	$(DEVTOOLS) test --only containers

containers-lock: venv $(BIN)/.installed-dev ## Recompile tests/containers/requirements.lock from requirements.in (needs PyPI)
	UV_SYSTEM_CERTS=1 $(BIN)/uv pip compile tests/containers/requirements.in --generate-hashes \
		--python-version 3.11 --python-platform x86_64-unknown-linux-gnu -o $(CONTAINERS_LOCK)

# --- The local Spark cluster and the spark-thrift target (docs/spark.md, "A Spark cluster") ---------------
# The cluster runs on the spark extra's pyspark; the target needs only the Thrift client (spark-thrift).
CLUSTER_EXTRAS := $(BIN)/.installed-spark $(BIN)/.installed-spark-thrift

venv-spark-thrift: $(BIN)/.installed-spark-thrift ## Add the spark-thrift target's client (dbt-spark with PyHive)

spark-cluster: venv $(CLUSTER_EXTRAS) ## Start a local Spark cluster (master, 2 workers, Thrift server) for TARGET=spark-thrift
	$(TMDB) spark-cluster start

spark-cluster-stop: venv ## Stop the local Spark cluster (only the processes `make spark-cluster` started)
	$(TMDB) spark-cluster stop

test-spark-cluster: venv $(BIN)/.installed-dev $(CLUSTER_EXTRAS) ## Cluster builds vs DuckDB, a worker and the Thrift server lost mid-build
	$(DEVTOOLS) test --only spark-cluster

clean: ## Remove build output and the data folders (landing zones, warehouses)
	rm -rf target logs dbt_packages .dbt_offline data
