# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test system-deps install check-python lint format typecheck bench clean worker

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null || { \
	  echo "Agent Identity Assessor needs Python 3.12 or newer (3.13 recommended, see .python-version)."; \
	  echo "'$(PYTHON)' is: $$($(PYTHON) --version 2>&1)"; \
	  echo "Install a newer Python, or point the Makefile at one: make PYTHON=python3.13 run"; \
	  exit 1; }

$(STAMP): pyproject.toml | check-python
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

# Migrate, load the demo (idempotent), then serve with the background worker beside it.
run: install
	@export DEBUG=1 SITE_URL="$${SITE_URL:-http://$(HOST):$(PORT)}"; \
	$(BIN)/python manage.py migrate --noinput && \
	$(BIN)/python manage.py load_demo && \
	{ $(BIN)/python manage.py db_worker --no-reload & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  echo "Serving on http://$(HOST):$(PORT) (Ctrl+C stops the server and the worker)"; \
	  $(BIN)/python manage.py runserver $(HOST):$(PORT); }

worker: install
	DEBUG=1 $(BIN)/python manage.py db_worker

# The whole suite: engine, views, access table, PDFs, browser tests. scripts/system-deps
# installs Chromium, poppler-utils and Pango with apt when it may (root or passwordless
# sudo); otherwise it stops here with one line naming the packages to install.
test: system-deps install
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

system-deps:
	@PYTHON=$(PYTHON) scripts/system-deps

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	DEBUG=1 $(BIN)/mypy assessments config

bench: install
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/evidence.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .mypy_cache .hypothesis
