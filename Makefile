# Every command a contributor, CI (.ci/run) and the GitHub workflows run goes through these targets. Each one
# calls the project's one command, `tmdb`, which the first target to need it installs into .venv (the package,
# editable, with its dependencies at the exact versions and hashes of requirements/*.txt).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
TMDB := $(BIN)/tmdb
# Where the data comes from: auto (Kaggle when credentials are found, else the sample), sample, kaggle, or a folder.
SOURCE ?= auto
# dbt target: duckdb (default), spark (in-process) or spark-thrift (a Spark Thrift server: make spark-cluster).
TARGET ?= duckdb
DOCS_PORT ?= 8080
# Gates `make test` leaves out, comma-separated: CI's main job sets SKIP_GATES=spark and runs
# `make test-spark` as a job of its own.
SKIP_GATES ?=
BENCH_ARGS ?=
comma := ,
skipped = $(filter $(1),$(subst $(comma), ,$(SKIP_GATES)))
# The extras a target needs on top of the base install: Spark for TARGET=spark and for the spark gate.
TARGET_EXTRAS := $(if $(filter spark,$(TARGET)),$(BIN)/.installed-spark)
TARGET_EXTRAS += $(if $(filter spark-thrift,$(TARGET)),$(BIN)/.installed-spark-thrift)
TEST_EXTRAS := $(BIN)/.installed-dev $(BIN)/.installed-bench $(if $(call skipped,spark),,$(BIN)/.installed-spark)

.PHONY: help venv venv-dev venv-spark venv-bench lock run stage build test test-spark lint docs hooks bench clean
.PHONY: venv-spark-thrift venv-browser spark-cluster spark-cluster-stop test-spark-cluster

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

lock: $(BIN)/.installed-dev ## Re-resolve every dependency (uv.lock) and export requirements/*.txt from it
	UV_SYSTEM_CERTS=1 $(BIN)/uv lock
	UV_SYSTEM_CERTS=1 $(BIN)/uv export --quiet --frozen --no-emit-project --only-group pip --no-header --no-annotate -o requirements/pip.txt
	for set in base dev spark spark-thrift browser bench; do \
	  UV_SYSTEM_CERTS=1 $(BIN)/uv export --quiet --frozen --no-emit-project --no-dev --group build \
	    $$([ $$set = base ] || echo --extra $$set) --no-header --no-annotate -o requirements/$$set.txt || exit 1; \
	done

run: venv $(TARGET_EXTRAS) ## Stage the data (SOURCE=...) and build + test the warehouse (TARGET=...), then print a summary
	$(TMDB) run --source "$(SOURCE)" --target "$(TARGET)"

stage: venv ## Get the data (SOURCE=auto|sample|kaggle|<folder>) and stage it into the landing zone
	$(TMDB) stage --source "$(SOURCE)"

build: venv $(TARGET_EXTRAS) ## dbt build (every model, snapshot, seed, test) on what was staged last
	$(TMDB) build --target "$(TARGET)"

test: venv $(TEST_EXTRAS) ## Every gate: sqlfluff, ruff, conventions, workflows, pytest, dbt build, catalog, spark (SKIP_GATES=...)
	$(TMDB) test $(if $(SKIP_GATES),--skip "$(SKIP_GATES)")

test-spark: venv $(BIN)/.installed-dev $(BIN)/.installed-spark ## The spark gate alone: the models built on DuckDB and Spark, compared
	$(TMDB) test --only spark

lint: venv $(BIN)/.installed-dev ## The static gates only (sqlfluff, ruff, conventions, workflows)
	$(TMDB) test --only static

docs: venv ## Generate the dbt docs and serve them on localhost:$(DOCS_PORT)
	$(TMDB) docs --port "$(DOCS_PORT)"

hooks: venv $(BIN)/.installed-dev ## Install the pre-commit git hook
	$(BIN)/pre-commit install

bench: venv $(BIN)/.installed-bench ## Full-size benchmark; writes docs/performance.{md,json} (BENCH_ARGS=...)
	$(TMDB) bench $(BENCH_ARGS)

# --- The local Spark cluster and the spark-thrift target (docs/spark.md, "A Spark cluster") ---------------
# The cluster runs on the spark extra's pyspark; the target needs only the Thrift client (spark-thrift).
CLUSTER_EXTRAS := $(BIN)/.installed-spark $(BIN)/.installed-spark-thrift

venv-spark-thrift: $(BIN)/.installed-spark-thrift ## Add the spark-thrift target's client (dbt-spark with PyHive)
venv-browser: $(BIN)/.installed-browser ## Add Playwright (drives the machine's Chromium for the Spark UI screenshots)

spark-cluster: venv $(CLUSTER_EXTRAS) ## Start a local Spark cluster (master, 2 workers, Thrift server) for TARGET=spark-thrift
	$(TMDB) spark-cluster start

spark-cluster-stop: venv ## Stop the local Spark cluster (only the processes `make spark-cluster` started)
	$(TMDB) spark-cluster stop

test-spark-cluster: venv $(BIN)/.installed-dev $(CLUSTER_EXTRAS) $(BIN)/.installed-browser ## Cluster builds vs DuckDB, a worker and the Thrift server lost mid-build
	$(TMDB) test --only spark-cluster

clean: ## Remove build output and the data folders (landing zones, warehouses)
	rm -rf target logs dbt_packages .dbt_offline data
