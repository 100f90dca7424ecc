# fangkong: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench messages install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/fangkong demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# SQLite always; PostgreSQL too when FANGKONG_TEST_DATABASE_URL is set.
test: lint
	$(BIN)/python -m pytest -n 2 -q
	@if [ -n "$$FANGKONG_TEST_DATABASE_URL" ]; then \
	  echo "== PostgreSQL: $$FANGKONG_TEST_DATABASE_URL"; \
	  FANGKONG_TEST_ON_POSTGRES=1 $(BIN)/python -m pytest -n 2 -q -m 'not browser'; \
	fi

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH)

# Regenerate translation catalogues (needs gettext); compiled .mo files are committed.
messages: $(STAMP)
	$(BIN)/python scripts/messages.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
