# Eum — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DB_URL ?= sqlite:///var/eum.sqlite3

.PHONY: run test install lint typecheck pytest browser demo verify scenarios bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Start the whole platform on an embedded SQLite database with the Incheon demo loaded.
run: $(STAMP)
	EUM_DATABASE_URL=$${EUM_DATABASE_URL:-$(DB_URL)} $(BIN)/eum db upgrade
	EUM_DATABASE_URL=$${EUM_DATABASE_URL:-$(DB_URL)} $(BIN)/eum demo load --if-empty
	EUM_DATABASE_URL=$${EUM_DATABASE_URL:-$(DB_URL)} $(BIN)/eum serve

## Lint, type-check and run every test (SQLite and PostgreSQL).
test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) browser
	$(BIN)/python -m pytest -q

## Chromium for tests/browser/ (and a Korean font, so that screenshots show Hangul), from apt.
browser:
	@command -v chromium >/dev/null || \
	  (apt-get update -qq && apt-get install -y -qq chromium fonts-nanum) || \
	  (sudo apt-get update -qq && sudo apt-get install -y -qq chromium fonts-nanum)
	@fc-list 2>/dev/null | grep -qi nanum || apt-get install -y -qq fonts-nanum || \
	  sudo -n apt-get install -y -qq fonts-nanum || echo "no Korean font: screenshots show boxes"

## Every Performance figure on SQLite and PostgreSQL: prints a table, writes bench/results/.
bench: $(STAMP)
	$(BIN)/python bench/run.py

scenarios: $(STAMP)
	for f in tests/scenarios/*.yaml; do $(BIN)/eum scenario run $$f > /dev/null || exit 1; done

verify: $(STAMP)
	EUM_DATABASE_URL=$${EUM_DATABASE_URL:-$(DB_URL)} $(BIN)/eum ledger verify

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
