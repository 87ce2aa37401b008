# Quick start: `make run` then `make test` (see README.md).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
PYTEST_ARGS ?=
PY_OK := import sys; sys.exit(sys.version_info < (3, 11))

.PHONY: venv install install-dev run lint test test-lowest bench soak clean screens dist

# A .venv made by an interpreter that cannot run synapse (too old, or gone) is rebuilt, not reused.
venv:
	@$(PY) -c '$(PY_OK)' 2>/dev/null || { echo "error: PY=$(PY) is not Python >= 3.11 ($$($(PY) -V 2>&1)); run e.g. make PY=python3.12 ..." >&2; exit 2; }
	@if [ -e $(VENV) ] && ! $(BIN)/python -c '$(PY_OK)' 2>/dev/null; then \
		echo "$(VENV) was not made by a usable Python >= 3.11: rebuilding it with $(PY)"; rm -rf $(VENV); fi
	@[ -x $(BIN)/python ] || { $(PY) -m venv $(VENV) && $(BIN)/python -m pip install -q --upgrade pip; }

# make run installs the runtime only; make test adds the test and lint tools (requirements-dev.txt).
$(RUN_STAMP): pyproject.toml
	$(BIN)/python -m pip install -q -e .
	@touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml requirements-dev.txt
	$(BIN)/python -m pip install -q -e '.[aws,gcp]' -r requirements-dev.txt
	@touch $(DEV_STAMP) $(RUN_STAMP)

install: venv
	@$(MAKE) --no-print-directory $(RUN_STAMP)

install-dev: venv
	@$(MAKE) --no-print-directory $(DEV_STAMP)

run: install
	$(BIN)/synapsed

# A wheel and an sdist in dist/, their metadata checked.
dist: install-dev
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/python -m twine check --strict dist/*

lint: install-dev
	$(BIN)/ruff check synapsed synapsectl tests bench
	$(BIN)/mypy

test: lint
	@test -x /usr/bin/chromium || test -n "$$SYNAPSE_TEST_CHROMIUM" || \
		echo "note: the browser tests will skip: no Chromium (Debian: sudo apt-get install chromium, or set SYNAPSE_TEST_CHROMIUM)"
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The declared lower bounds, proven: a second venv with every direct runtime dependency at the
# lowest version pyproject.toml allows (uv's lowest-direct resolution), the test tools as usual,
# then the unit tests and the console, MCP and CLI end-to-end tests.
LOWEST := .venv-lowest
test-lowest: venv
	@[ -x $(LOWEST)/bin/python ] || $(PY) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install -q --upgrade pip uv
	$(LOWEST)/bin/python -m uv pip install -q --python $(LOWEST)/bin/python --reinstall --resolution lowest-direct \
		-e '.[aws,gcp]'
	# The test tools may not lift what was just lowered: the runtime versions are their constraints.
	$(LOWEST)/bin/python -m uv pip freeze --python $(LOWEST)/bin/python | grep -v '^-e' > $(LOWEST)/runtime-pins.txt
	$(LOWEST)/bin/python -m uv pip install -q --python $(LOWEST)/bin/python -r requirements-dev.txt \
		-c $(LOWEST)/runtime-pins.txt
	$(LOWEST)/bin/python -c 'import aiohttp, msgspec, structlog, keyring, botocore, mcp; print("lowest:", \
		"aiohttp", aiohttp.__version__, "msgspec", msgspec.__version__, "structlog", structlog.__version__, \
		"botocore", botocore.__version__)'
	SYNAPSE_SKIP_PACKAGING=1 $(LOWEST)/bin/python -m pytest -q -p no:cacheprovider tests/unit \
		tests/e2e/test_console_http.py tests/e2e/test_mcp.py tests/e2e/test_synapsectl.py tests/e2e/test_usage_cli.py

# Refresh the console screenshots in docs/console/ from the real pages (needs Chromium).
screens: install-dev
	SYNAPSE_CONSOLE_SCREENS=docs/console $(BIN)/python -m pytest tests/browser -q

bench: install-dev
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
	$(BIN)/python bench/ledger_scale.py --markdown BENCHMARKS.md

clean:
	rm -rf $(VENV) $(LOWEST) build dist *.egg-info .pytest_cache

soak: install-dev
	$(BIN)/python bench/soak.py --markdown BENCHMARKS.md
