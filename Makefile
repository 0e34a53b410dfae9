# Two commands do all setup: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: demo engine-demo test verify validate calibrate bench clean

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

# The main job: the built-in default trial (20,000 patients, 4 arms) with its report in out/.
demo: $(VENV)/.stamp-base
	mkdir -p out && rm -f out/block-*.parquet out/block-*.parquet.tmp
	$(VENV)/bin/gistsim trial --workers 2 --out out

engine-demo: $(VENV)/.stamp-base
	$(VENV)/bin/gistsim demo --out out

test: $(VENV)/.stamp-dev
	$(PY) -m pytest -q

verify: $(VENV)/.stamp-dev
	$(PY) -m gistsim.verification --level full

# Every calibration-target trial with the shipped defaults: out/validation/validation.html and .json.
validate: $(VENV)/.stamp-base
	$(VENV)/bin/gistsim validate --out out/validation --workers 2

# Refit the uncertain parameters (CMA-ES); ship out/calibration/calibrated.yaml as src/gistsim/data/calibrated.yaml.
calibrate: $(VENV)/.stamp-base
	$(VENV)/bin/gistsim calibrate --out out/calibration --workers 2

bench: $(VENV)/.stamp-bench
	$(PY) benchmarks/engine.py
	$(PY) benchmarks/vs_gillespy2.py
	$(PY) benchmarks/trial.py
	$(PY) benchmarks/two_at_once.py

clean:
	rm -rf $(VENV) out build *.egg-info src/*.egg-info
