VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint vendor browser

# One virtual environment with everything: torch first, pinned to the CPU build on this disk,
# so that nothing later asks for a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

demo: $(VENV)/.installed  ## run the demo against local fake networks
	$(BIN)/social-crm demo

test: $(VENV)/.installed browser  ## run the test suite
	$(BIN)/pytest

lint: $(VENV)/.installed  ## ruff lint and format check, import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

vendor:  ## refresh the web dashboard's browser libraries from npm (versions in the manifest)
	python3 scripts/vendor_static.py

browser:  ## Debian's Chromium for the dashboard's browser tests, when missing and apt is there
	@command -v chromium >/dev/null || ! command -v apt-get >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq chromium) || \
		echo "Chromium could not be installed: the browser tests will skip"
