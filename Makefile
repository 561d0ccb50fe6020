# Vigie: every entry point installs from uv.lock first, so a fresh clone needs nothing else.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen
export UV_PYTHON ?= 3.11

.PHONY: help install manifest demo test lint pytest up cluster docs screenshots sql bench bench-warehouse bench-cluster clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install:  ## install the locked environment (.venv) and build the dbt manifest
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		{ echo "[vigie] bootstrapping uv with pip"; python3 -m pip install --quiet uv; }
	@echo "[vigie] installing the locked environment (uv sync --frozen)"
	@$(UV) sync --frozen --quiet
	@$(MAKE) --no-print-directory manifest

# Rebuilt when the project (or the locked dbt) changed since: a dbt parse costs seconds per target.
DBT_SOURCES := dbt_project/models dbt_project/macros dbt_project/tests dbt_project/dbt_project.yml dbt_project/profiles.yml uv.lock

manifest:  ## build dbt_project/target/manifest.json (Cosmos renders the DAG from it)
	@if [ -f dbt_project/target/manifest.json ] && [ -z "$$(find $(DBT_SOURCES) -newer dbt_project/target/manifest.json -print -quit 2>/dev/null)" ]; then \
		echo "[vigie] the dbt manifest is up to date"; \
	else \
		echo "[vigie] building the dbt manifest"; \
		cd dbt_project && $(RUN) dbt parse --quiet --project-dir . --profiles-dir . --target duckdb; \
	fi

demo: install  ## sample + the whole flow once in data/demo/ (its own settings), with a summary
	@$(RUN) vigie demo $(DEMO_ARGS)

lint:  ## ruff (lint + format), the package's layers (.importlinter), deptry, mypy, sqlfluff on the dbt models
	@echo "[vigie] ruff"
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@echo "[vigie] import-linter (.importlinter: layers, no circles, the demo fenced off)"
	@$(RUN) lint-imports --no-cache
	@echo "[vigie] mypy"
	@$(RUN) mypy
	@echo "[vigie] deptry (every import declared, every dependency used)"
	@$(RUN) deptry .
	@echo "[vigie] sqlfluff"
	@$(RUN) sqlfluff lint dbt_project/models dbt_project/tests --disable-progress-bar --nocolor

pytest:
	@echo "[vigie] pytest"
	@$(RUN) pytest

test: install lint pytest  ## install, lint, and run the whole test suite

up: install  ## Airflow UI + scheduler on http://127.0.0.1:8080 (Ctrl-C stops it)
	@echo "[vigie] starting airflow standalone on http://127.0.0.1:8080 (user admin; password:"
	@echo "        .airflow/simple_auth_manager_passwords.json.generated)"
	@echo "[vigie] Vigie's DAGs start paused: a scheduled or triggered run waits until its DAG is"
	@echo "        unpaused (toggle in the DAG list, or: uv run vigie airflow dags unpause DAG_ID)"
	@AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=8080 $(RUN) vigie airflow standalone

cluster: install  ## the production topology without Docker: CeleryExecutor, 2 workers, FAB logins (needs VIGIE_WAREHOUSE_URL on PostgreSQL)
	@$(RUN) python -m vigie.demo.local_cluster

docs:  ## dbt docs of the warehouse on http://127.0.0.1:8081 (DOCS_PORT=...; Ctrl-C stops it)
	@echo "[vigie] dbt docs generate (models, tests and the warehouse's catalog)"
	@$(RUN) python -c 'from vigie.warehouse.dbt_runner import run_dbt; from vigie.settings import get_settings; run_dbt(["docs", "generate", "--quiet"], get_settings())'
	@echo "[vigie] serving dbt_project/target on http://127.0.0.1:$(or $(DOCS_PORT),8081)"
	@$(RUN) python -m http.server --bind 127.0.0.1 --directory dbt_project/target $(or $(DOCS_PORT),8081)

screenshots: install  ## the README's pictures of the weekly e-mails (headless Chromium) -> docs/screenshots/email-*.png
	@$(RUN) python docs/screenshots/email-screenshots.py

sql:  ## the warehouse in a SQL client, read-only (harlequin; psql on PostgreSQL); Q='SELECT ...' prints one answer
	@$(RUN) python -m vigie.warehouse.sql_client $(if $(Q),--query "$(Q)")

SCALES ?= national,x10
BENCH_POSTGRES ?= postgresql://postgres@127.0.0.1:5432/postgres
# The warehouse DAG under a real scheduler at these scales (full refreshes, then a run with no
# new file and a run of a new week; PostgreSQL only where the stages run on it too, national);
# the slower Cosmos modes run apart: `make bench-warehouse`.
COSMOS_SCALES ?= national,x10

bench: install  ## stages vs baselines at SCALES (national,x10; add x100) -> bench/results/
	@echo "[vigie] benchmarks at $(SCALES) (PostgreSQL: $(BENCH_POSTGRES))"
	@$(RUN) python bench/run.py --scales $(SCALES) --postgres $(BENCH_POSTGRES) --cosmos-scales "$(COSMOS_SCALES)"

bench-warehouse: install  ## Cosmos's execution modes under a real scheduler vs plain dbt build (DuckDB, PostgreSQL)
	@$(RUN) python bench/bench_warehouse.py --postgres $(BENCH_POSTGRES)

bench-cluster: install  ## a year of weekly runs backfilled: Celery (2 workers) vs LocalExecutor
	@$(RUN) python bench/bench_backfill.py --postgres $(BENCH_POSTGRES)

clean:  ## remove generated data (warehouse, landing, outbox) but keep Airflow's history
	rm -rf data dbt_project/target dbt_project/logs
