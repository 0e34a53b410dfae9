# Two commands do all setup: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: demo test verify bench clean

$(VENV)/.stamp-base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-base
	$(PIP) install --quiet -e '.[dev]'
	touch $@

$(VENV)/.stamp-bench: $(VENV)/.stamp-dev
	$(PIP) install --quiet -e '.[bench]'
	touch $@

demo: $(VENV)/.stamp-base
	$(VENV)/bin/gistsim demo --out out

test: $(VENV)/.stamp-dev
	$(PY) -m pytest -q

verify: $(VENV)/.stamp-dev
	$(PY) -m gistsim.verification --level full

bench: $(VENV)/.stamp-bench
	$(PY) benchmarks/engine.py
	$(PY) benchmarks/vs_gillespy2.py

clean:
	rm -rf $(VENV) out build *.egg-info src/*.egg-info
