# The two commands of the README: `make run` and `make test`. Both create .venv and install the project.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install class-archive run test browser bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The JVM class archive (shopsense.class_archive): recorded once per Java + Spark install (a minute or two),
# then every Spark session starts in about 60% of the time. The benchmark records it first; `make test`
# records its own, for the suite only, into a temporary folder (tests/conftest.py, docs/testing.md).
class-archive: install
	$(VENV)/bin/shopsense class-archive --if-missing

run: install
	$(VENV)/bin/shopsense run

# Headless Chromium for the browser tests (report screenshot, web app). Installed from Debian when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo -n apt-get install -y -qq chromium >/dev/null 2>&1 || echo "WARNING: chromium missing and cannot be installed: browser tests will be skipped"; fi; }

test: install browser
	$(PY) -m pytest

# ShopSense vs DuckDB (docs/benchmarks.md). `make bench SIZES=1000000 REPS=3`; DOC=docs/benchmarks.md
# rewrites the results table of that file.
SIZES ?= 100000 1000000 5000000
REPS ?= 3
bench: install class-archive
	PYTHONPATH=src:. $(PY) -m benchmarks.run --sizes $(SIZES) --reps $(REPS) $(if $(DOC),--doc $(DOC))

clean:
	rm -rf data reports models stream spark-warehouse metastore_db
