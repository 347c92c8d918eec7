# The two commands of the README: `make run` and `make test`. Both create .venv and install the project.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install class-archive run test test-fast browser bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Opt-in: the JVM class archive (shopsense.class_archive), recorded once per Java + Spark install; sessions map
# it with `[spark] class_archive = true` in shopsense.toml (docs/benchmarks.md: `python -m benchmarks.jvm_start`).
class-archive: install
	$(VENV)/bin/shopsense class-archive --if-missing

run: install
	$(VENV)/bin/shopsense run

# Headless Chromium for the browser tests (report screenshot, web app). Installed from Debian when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo -n apt-get install -y -qq chromium >/dev/null 2>&1 || echo "WARNING: chromium missing and cannot be installed: browser tests will be skipped"; fi; }

# Everything, as CI runs it, on two workers; the files sharing an expensive fixture run in the same one
# (tests/conftest.py, docs/testing.md).
test: install browser
	$(PY) -m pytest -n 2

# The edit-test loop: unit and SQL-differential tests; no cluster, browser, subprocess or fresh JVM (< 3 min).
test-fast: install
	$(PY) -m pytest -m "not slow"

# ShopSense vs DuckDB (docs/benchmarks.md). `make bench SIZES=1000000 REPS=3`; DOC=docs/benchmarks.md
# rewrites the results table of that file.
SIZES ?= 100000 1000000 5000000
REPS ?= 3
bench: install
	PYTHONPATH=src:. $(PY) -m benchmarks.run --sizes $(SIZES) --reps $(REPS) $(if $(DOC),--doc $(DOC))

clean:
	rm -rf data reports models stream spark-warehouse metastore_db
