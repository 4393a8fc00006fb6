# Every command a contributor, CI (.ci/run) and the GitHub workflows run goes through these targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Where the data comes from: auto (Kaggle when credentials are found, else the sample), sample, kaggle, or a folder.
SOURCE ?= auto
# dbt target: duckdb (default) or spark.
TARGET ?= duckdb
DOCS_PORT ?= 8080
# Gates `make test` leaves out, comma-separated: CI's main job sets SKIP_GATES=spark and runs
# `make test-spark` as a job of its own.
SKIP_GATES ?=
comma := ,
# `make test` installs the Spark packages for its spark gate, unless that gate is skipped.
TEST_SPARK_REQUIREMENTS := $(if $(filter spark,$(subst $(comma), ,$(SKIP_GATES))),,$(BIN)/.requirements-spark-installed)
# ... and the Airflow venv for its airflow gate (see the Airflow section at the end).
AIRFLOW_VENV ?= .venv-airflow
TEST_AIRFLOW_REQUIREMENTS := $(if $(filter airflow,$(subst $(comma), ,$(SKIP_GATES))),,$(AIRFLOW_VENV)/.requirements-installed)

.PHONY: help venv run stage build test test-spark lint docs hooks bench clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(BIN)/.requirements-installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

venv: $(BIN)/.requirements-installed ## Create .venv and install requirements.txt (done by every target on first use)

# The Spark target's packages (pyspark, dbt-spark; ~630 MB). `make test` builds on Spark too (the spark
# gate); `make run/build TARGET=spark` install them on demand (scripts/tmdb_pipeline/spark_env.py).
$(BIN)/.requirements-spark-installed: $(BIN)/.requirements-installed requirements-spark.txt
	$(PY) -m pip install --quiet -r requirements-spark.txt
	@touch $@

run: venv ## Stage the data (SOURCE=...) and build + test the warehouse (TARGET=...), then print a summary
	$(PY) scripts/pipeline.py run --source "$(SOURCE)" --target "$(TARGET)"

stage: venv ## Get the data (SOURCE=auto|sample|kaggle|<folder>) and stage it into the landing zone
	$(PY) scripts/pipeline.py stage --source "$(SOURCE)"

build: venv ## Install dbt packages (or skip them, loudly) and run dbt build on what was staged last
	$(PY) scripts/pipeline.py build --target "$(TARGET)"

test: venv $(TEST_SPARK_REQUIREMENTS) $(TEST_AIRFLOW_REQUIREMENTS) ## Every gate: sqlfluff, ruff, conventions, workflows, pytest, dbt build, catalog, spark, airflow (SKIP_GATES=...)
	$(PY) scripts/pipeline.py test $(if $(SKIP_GATES),--skip "$(SKIP_GATES)")

test-spark: venv $(BIN)/.requirements-spark-installed ## The spark gate alone: the models built on DuckDB and Spark, compared
	$(PY) scripts/pipeline.py test --only spark

lint: venv ## The static gates only (sqlfluff, ruff, conventions, workflows)
	$(PY) scripts/pipeline.py test --only static

docs: venv ## Generate the dbt docs and serve them on localhost:$(DOCS_PORT)
	$(PY) scripts/pipeline.py docs --port "$(DOCS_PORT)"

hooks: venv ## Install the pre-commit git hook
	$(BIN)/pre-commit install

bench: venv ## Full-size benchmark; writes docs/performance.{md,json}
	$(PY) scripts/pipeline.py bench $(BENCH_ARGS)

clean: ## Remove build output and the data folders (landing zones, warehouses)
	rm -rf target logs dbt_packages .dbt_offline data

# --- Airflow: the tmdb_warehouse DAG (orchestration/airflow/, docs/airflow.md) ----------------------------
# Its own venv from a hashed lock file (Airflow and dbt do not share one); dbt runs from .venv.
AIRFLOW_PY := $(AIRFLOW_VENV)/bin/python
AIRFLOW_LOCK := orchestration/airflow/requirements.lock
AIRFLOW_PORT ?= 8080
AIRFLOW_ENV := AIRFLOW_HOME="$(CURDIR)/data/airflow" TMDB_PROJECT_PYTHON="$(CURDIR)/$(PY)"
.PHONY: airflow-venv airflow airflow-test test-airflow airflow-lock

$(AIRFLOW_VENV)/.requirements-installed: $(AIRFLOW_LOCK)
	@test -x $(AIRFLOW_PY) || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_PY) -m pip install --quiet --upgrade pip
	$(AIRFLOW_PY) -m pip install --quiet --require-hashes --no-deps -r $(AIRFLOW_LOCK)
	@touch $@

airflow-venv: $(AIRFLOW_VENV)/.requirements-installed ## Create .venv-airflow (Airflow + Cosmos, pinned with hashes)

airflow: venv airflow-venv ## Airflow's UI on http://127.0.0.1:8080 (AIRFLOW_PORT=...), standalone, state in data/airflow
	$(AIRFLOW_ENV) $(AIRFLOW_PY) orchestration/airflow/launch.py standalone --port "$(AIRFLOW_PORT)"

airflow-test: venv airflow-venv ## One run of the DAG end to end on the sample, no server (airflow dags test)
	$(AIRFLOW_ENV) $(AIRFLOW_PY) orchestration/airflow/launch.py test --source sample

test-airflow: venv airflow-venv ## The airflow gate alone: tests/airflow (DAG shape, runs, failure, UI screenshot)
	$(PY) scripts/pipeline.py test --only airflow

airflow-lock: ## Recompile orchestration/airflow/requirements.lock from requirements.in (needs PyPI)
	@test -x $(AIRFLOW_VENV)-lock/bin/uv || ($(PYTHON) -m venv $(AIRFLOW_VENV)-lock && $(AIRFLOW_VENV)-lock/bin/pip install --quiet uv==0.13.8)
	$(AIRFLOW_VENV)-lock/bin/uv pip compile orchestration/airflow/requirements.in --generate-hashes \
		--python-version 3.11 --python-platform x86_64-unknown-linux-gnu -o $(AIRFLOW_LOCK)
