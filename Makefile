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
# `make dashboard` serves the dashboard on 127.0.0.1:$(DASHBOARD_PORT).
DASHBOARD_PORT ?= 8501
# Gates `make test` leaves out, comma-separated: CI's main job sets SKIP_GATES=spark and runs
# `make test-spark` as a job of its own.
SKIP_GATES ?=
comma := ,
# `make test` installs the Spark packages for its spark gate, unless that gate is skipped.
TEST_SPARK_REQUIREMENTS := $(if $(filter spark,$(subst $(comma), ,$(SKIP_GATES))),,$(BIN)/.requirements-spark-installed)

.PHONY: help venv run stage build test test-spark lint docs hooks bench clean dashboard screenshots

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

# The dashboard's packages (streamlit, altair; playwright for its browser test). `make dashboard` and
# `make test` (the dashboard gate) install them on first use.
$(BIN)/.requirements-dashboard-installed: $(BIN)/.requirements-installed requirements-dashboard.txt
	$(PY) -m pip install --quiet -r requirements-dashboard.txt
	@touch $@
TEST_DASHBOARD_REQUIREMENTS := $(if $(filter dashboard,$(subst $(comma), ,$(SKIP_GATES))),,$(BIN)/.requirements-dashboard-installed)

run: venv ## Stage the data (SOURCE=...) and build + test the warehouse (TARGET=...), then print a summary
	$(PY) scripts/pipeline.py run --source "$(SOURCE)" --target "$(TARGET)"

stage: venv ## Get the data (SOURCE=auto|sample|kaggle|<folder>) and stage it into the landing zone
	$(PY) scripts/pipeline.py stage --source "$(SOURCE)"

build: venv ## Install dbt packages (or skip them, loudly) and run dbt build on what was staged last
	$(PY) scripts/pipeline.py build --target "$(TARGET)"

test: venv $(TEST_SPARK_REQUIREMENTS) $(TEST_DASHBOARD_REQUIREMENTS) ## Every gate: sqlfluff, ruff, conventions, workflows, pytest, dbt build, catalog, dashboard, spark (SKIP_GATES=...)
	$(PY) scripts/pipeline.py test $(if $(SKIP_GATES),--skip "$(SKIP_GATES)")

test-spark: venv $(BIN)/.requirements-spark-installed ## The spark gate alone: the models built on DuckDB and Spark, compared
	$(PY) scripts/pipeline.py test --only spark

lint: venv ## The static gates only (sqlfluff, ruff, conventions, workflows)
	$(PY) scripts/pipeline.py test --only static

docs: venv ## Generate the dbt docs and serve them on localhost:$(DOCS_PORT)
	$(PY) scripts/pipeline.py docs --port "$(DOCS_PORT)"

hooks: venv ## Install the pre-commit git hook
	$(BIN)/pre-commit install

dashboard: venv $(BIN)/.requirements-dashboard-installed ## Serve the dashboard of the published marts on 127.0.0.1:$(DASHBOARD_PORT) (after make run)
	$(PY) scripts/pipeline.py dashboard --port "$(DASHBOARD_PORT)"

screenshots: venv $(BIN)/.requirements-dashboard-installed ## Browser test of the dashboard; its Overview screenshot becomes docs/images/dashboard.png
	rm -rf target/screenshots-readme
	TMDB_SCREENSHOT_DIR=target/screenshots-readme $(PY) -m pytest tests/python/test_dashboard_browser.py -q
	mkdir -p docs/images && cp target/screenshots-readme/overview.png docs/images/dashboard.png

bench: venv ## Full-size benchmark; writes docs/performance.{md,json}
	$(PY) scripts/pipeline.py bench $(BENCH_ARGS)

clean: ## Remove build output and the data folders (landing zones, warehouses)
	rm -rf target logs dbt_packages .dbt_offline data
