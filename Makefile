# The two commands of README: `make run` and `make test`. Both work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test migrate check schema clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-base: requirements/base.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/base.txt
	touch $@

$(VENV)/.installed-dev: requirements/dev.txt requirements/base.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $@ $(VENV)/.installed-base

migrate: $(VENV)/.installed-base
	mkdir -p var/static
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py ensure_superuser
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python manage.py serve

test: $(VENV)/.installed-dev
	mkdir -p var/static
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(VENV)/.installed-dev
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py spectacular --fail-on-warn --file /dev/null

schema: $(VENV)/.installed-base
	$(BIN)/python manage.py spectacular --format openapi-json --file var/openapi.json
	python3 ../shared/design/check_endpoints.py var/openapi.json

clean:
	rm -rf var/test.sqlite3 .pytest_cache

# `make bench`: the benchmark suite (bench/README.md), full run; `make bench BENCH_ARGS=--quick` for
# the smoke run. Installs requirements/bench.txt (gunicorn, procrastinate, matplotlib) into the venv.
BENCH_ARGS ?=
.PHONY: bench

$(VENV)/.installed-bench: requirements/bench.txt requirements/prod.txt requirements/base.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/bench.txt
	touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench $(BENCH_ARGS)
