PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test lint typecheck pytest schema-check graphiql clean

# pip --quiet once still relays the build backend's notices (setuptools' word on editable
# installs) as warnings; twice, it prints errors alone.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --quiet --upgrade pip
	$(BIN)/pip install --quiet --quiet -e '.[dev]'
	touch $(STAMP)

# The demo ecosystem on embedded SQLite: check, migrate, seed, build the sites, then serve
# GraphQL and the sites on http://$(HOST):$(PORT).
demo: $(STAMP) graphiql
	$(BIN)/ecospec check
	$(BIN)/ecospec migrate
	$(BIN)/ecospec seed
	$(BIN)/ecospec build
	$(BIN)/ecospec serve --host $(HOST) --port $(PORT)

test: $(STAMP) lint typecheck schema-check pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

schema-check: $(STAMP)
	$(BIN)/ecospec schema --check

pytest: $(STAMP)
	$(BIN)/pytest

# GraphiQL's browser files, from the npm registry (optional; GET /graphql falls back to a small page).
graphiql:
	-./ecospec/runtime/static/fetch-graphiql.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var
