# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-core screenshots chromium lint typecheck check demo fuzz clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/awareness init
	$(BIN)/awareness run

demo: $(STAMP)
	$(BIN)/awareness init
	$(BIN)/awareness run --demo

# The test files are shared out among one worker per core (pytest-xdist; a file's tests stay
# together, so a browser or a server a file starts once serves all its tests):
# `make test TEST_WORKERS=0` runs them one after the other, in one process (docs/testing.md).
TEST_WORKERS ?= auto
test: chromium $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/pytest --numprocesses $(TEST_WORKERS) --dist loadfile

# The pure core alone, in seconds: no database, server, process or browser (docs/testing.md).
test-core: $(STAMP)
	$(BIN)/pytest -m core

# The browser tests, keeping a screenshot of every page and mail they check in var/screenshots
# for a person to look at (docs/testing.md).
screenshots: chromium $(STAMP)
	AWARENESS_TEST_SCREENSHOTS=var/screenshots $(BIN)/pytest -m browser

# The browser tests drive Debian's chromium (Playwright never downloads a browser). Install it
# when it is missing and we can (root, with apt-get); otherwise stop with the command to run.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "make test needs Debian's chromium for the browser tests; run: sudo apt-get install chromium" >&2; \
	    exit 1; \
	  fi; }

# A time-boxed atheris run of the feed parser (RELIABILITY.md P15); CI runs it after `test`.
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	$(BIN)/python tests/fuzz_parse.py -max_total_time=$(FUZZ_SECONDS)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

clean:
	rm -rf $(VENV) var build *.egg-info
