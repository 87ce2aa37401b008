# Quick start: `make run` then `make test` (see README.md).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install run lint test bench soak clean screens

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,aws,gcp]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/synapsed

lint: install
	$(BIN)/ruff check synapsed synapsectl tests bench
	$(BIN)/mypy

test: lint
	@test -x /usr/bin/chromium || test -n "$$SYNAPSE_TEST_CHROMIUM" || \
		echo "note: the browser tests will skip: no Chromium (Debian: sudo apt-get install chromium, or set SYNAPSE_TEST_CHROMIUM)"
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Refresh the console screenshots in docs/console/ from the real pages (needs Chromium).
screens: install
	SYNAPSE_CONSOLE_SCREENS=docs/console $(BIN)/python -m pytest tests/browser -q

bench: install
	$(BIN)/python bench/control_plane.py --markdown BENCHMARKS.md
	$(BIN)/python bench/chat_latency.py --markdown BENCHMARKS.md
	$(BIN)/python bench/mcp_latency.py --markdown BENCHMARKS.md
	$(BIN)/python bench/ledger.py --markdown BENCHMARKS.md
	$(BIN)/python bench/session_flood.py --markdown BENCHMARKS.md
	$(BIN)/python bench/mcp_eras.py --markdown BENCHMARKS.md
	$(BIN)/python bench/event_loop.py --markdown BENCHMARKS.md
	$(BIN)/python bench/mcp_startup.py --markdown BENCHMARKS.md
	$(BIN)/python bench/redaction.py --markdown BENCHMARKS.md
	$(BIN)/python bench/tools_list_size.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

soak: install
	$(BIN)/python bench/soak.py --markdown BENCHMARKS.md
