# optimize-cli: `make demo` installs and runs the default recipe; `make test` installs and runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CLI    := $(VENV)/bin/optimize-cli
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint sample-models bench clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: install
	$(CLI) validate recipes/prune-cluster-pcqat.yaml
	$(CLI) run recipes/prune-cluster-pcqat.yaml --output runs/prune-cluster-pcqat --force

test: install
	$(PY) -m pytest -n 2 --dist worksteal -q

lint: install
	$(VENV)/bin/ruff check optimize_cli tests sample_models benchmarks

sample-models: install
	$(PY) sample_models/build.py

bench: install
	$(PY) benchmarks/cli_startup.py

clean:
	rm -rf runs .pytest_cache build *.egg-info
