# The two commands a newcomer needs: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo demo-reset demo-federation test install install-test system-demo system-test migrate lint format serve worker beat bench bench-scale bench-invariants bench-download bench-ingest invariants-search clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(PIP) install -r requirements.txt
	@touch $@

$(VENV)/.installed-test: requirements.txt requirements-test.txt $(VENV)/.installed
	$(PIP) install -r requirements-test.txt
	@touch $@

install: system-demo $(VENV)/.installed
install-test: system-test $(VENV)/.installed-test

system-demo:
	@bash scripts/system_packages.sh demo

system-test:
	@bash scripts/system_packages.sh test

migrate: install
	$(BIN)/python manage.py migrate --noinput

# Links in e-mail and catalogue exports follow the address the demo is served on (SITE_URL wins if set).
demo demo-reset demo-federation serve: export SITE_URL ?= http://$(HOST):$(PORT)
# The demo runs like production for its visitors (DEBUG off: the portal's own 404, 403 and 500
# pages) on plain http, with a secret key generated into the var folder; see portal/settings.py.
demo demo-reset demo-federation: export PORTAL_PROFILE ?= demo

## Set up (venv, packages, database, demo data) and serve the portal on http://$(HOST):$(PORT)
demo: migrate
	$(BIN)/python manage.py visa_dev_key --if-missing
	$(BIN)/python manage.py federation_dev_key --if-missing
	$(BIN)/python manage.py load_demo
	@echo "Serving on $(SITE_URL)/ (Ctrl-C stops)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

## The demo and two partner nodes (ports PORT+1 and PORT+2, own databases), peered: a federated search answered by three
demo-federation: migrate
	$(BIN)/python manage.py visa_dev_key --if-missing
	$(BIN)/python manage.py federation_dev_key --if-missing
	$(BIN)/python manage.py load_demo
	$(BIN)/python scripts/demo_federation.py --host $(HOST) --port $(PORT)

## Throw the embedded demo database and its files away, then set up and serve the demo afresh
demo-reset: install
	rm -rf "$${PORTAL_VAR_DIR:-var}"
	$(MAKE) demo HOST=$(HOST) PORT=$(PORT)

## Install the test tools and run the whole suite, lint included
test: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -c pyproject.toml -r portal catalogue access_requests federation scripts -q
	$(BIN)/python scripts/run_tests.py $(PYTEST_ARGS)

## The long search of the governance invariants (tests/invariants/test_workflows.py): 10,000 steps and more
invariants-search: install-test
	$(BIN)/python scripts/invariants_search.py $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

serve: migrate
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

## With REDIS_URL set: a Celery worker and the scheduler for periodic jobs
worker: install
	$(BIN)/celery -A portal worker --loglevel=info

beat: install
	$(BIN)/celery -A portal beat --loglevel=info

# A scratch PostgreSQL database the scale benchmark may create, fill and keep, and a Redis database for the cache.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/portal_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/6

## Scale benchmark (bench/README.md): seeds once, then serves with gunicorn and measures; BENCH_ARGS=--help
bench-scale: install
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(BIN)/python bench/scale_bench.py $(BENCH_ARGS)

## manage.py check_invariants on the scale benchmark's data (seeded first if needed), timed: bench/README.md
bench-invariants: install
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(BIN)/python bench/scale_bench.py --invariants $(BENCH_ARGS)

# A scratch PostgreSQL database the download benchmark drops and creates on every run.
BENCH_DOWNLOAD_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/portal_bench_download

## Download benchmark (bench/README.md): a 1 GiB file through grant links, gunicorn and nginx; BENCH_ARGS=--help
bench-download: install system-test
	DATABASE_URL=$(BENCH_DOWNLOAD_DATABASE_URL) $(BIN)/python bench/download_bench.py $(BENCH_ARGS)

# A scratch PostgreSQL database the ingestion benchmark drops and creates on every run.
BENCH_INGEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/portal_bench_ingest

## Ingestion benchmark (bench/README.md): the file scan over 10,000 DICOM files against a bare pydicom loop; BENCH_ARGS=--help
bench-ingest: install
	DATABASE_URL=$(BENCH_INGEST_DATABASE_URL) $(BIN)/python bench/ingestion_bench.py $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache .ruff_cache
