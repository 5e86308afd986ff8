# optimize-cli: `make demo` installs and runs the default recipe; `make test` installs and runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CLI    := $(VENV)/bin/optimize-cli
STAMP  := $(VENV)/.installed

LOCK   := constraints.txt

.PHONY: install lock demo demo-curve test test-fast lint docs sample-models bench clean

install: $(STAMP)

# the versions the tests ran with: constraints.txt (pip-compile's output, kept in the repo); setup.cfg keeps
# the compatible ranges a user's own environment may resolve within
$(STAMP): setup.cfg pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade 'pip>=24,<27'
	$(PY) -m pip install --quiet -c $(LOCK) -e '.[test]'
	touch $(STAMP)

# refresh constraints.txt from setup.cfg's ranges (newest versions inside them), with pip-tools in a
# throw-away venv; then `make test` and commit the new file
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet 'pip-tools>=7.4,<8'
	CUSTOM_COMPILE_COMMAND="make lock" .venv-lock/bin/pip-compile --quiet --upgrade --extra test --strip-extras --no-emit-index-url \
	  --no-emit-find-links --output-file $(LOCK) setup.cfg
	rm -rf .venv-lock

demo: install
	$(CLI) validate prune-cluster-pcqat
	$(CLI) run prune-cluster-pcqat --output runs/prune-cluster-pcqat --force

# the size/accuracy trade-off: built-in paths on the 610-parameter sample (digits_tiny, where pruning, clustering
# and int4 cost accuracy; digits_cnn scores the same on every path), then one table. Exit 5 (a recipe's gate
# missed) still writes the report, so it does not stop the curve.
CURVE := ptq-int8 qat ptq-int4 cluster-ptq prune-ptq prune-cluster-ptq prune-cluster-pcqat prune-cluster-pcqat-distill
demo-curve: install
	@for r in $(CURVE); do $(CLI) run $$r --model sample_models/digits_tiny --output runs/curve/$$r --force --quiet \
	  >/dev/null; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ] || exit $$rc; done
	$(CLI) compare $(CURVE:%=runs/curve/%/report.json)

test: install
	$(PY) -m pytest -n 2 --dist worksteal -q

# the edit loop: everything but the tests marked `slow` (end-to-end CLI runs, multi-stage training);
# `make test` and .ci/run stay complete
test-fast: install
	$(PY) -m pytest -n 2 --dist worksteal -q -m "not slow"

lint: install
	$(VENV)/bin/ruff check optimize_cli tests sample_models benchmarks docs/hooks

# the documentation site (docs/, mkdocs.yml) into site/; the reference pages are generated from the
# schemas and the click commands, so a broken link or a stale anchor fails here
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

sample-models: install
	$(PY) sample_models/build.py

bench: install
	$(PY) benchmarks/cli_startup.py

clean:
	rm -rf runs site .pytest_cache build *.egg-info
