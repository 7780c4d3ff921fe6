# pgstaging. Two commands for a new user: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PG_VERSION ?= 15
# Debian packages the tests need: server (initdb, pg_ctl), pgTAP, pg_prove, plpgsql_check,
# and chromium for the run report's browser tests (Playwright never downloads one).
DEBIAN_PACKAGES := postgresql-$(PG_VERSION) postgresql-$(PG_VERSION)-pgtap \
	libtap-parser-sourcehandler-pgtap-perl postgresql-$(PG_VERSION)-plpgsql-check chromium

.PHONY: help demo test test-in-cluster install lint bench bench-smoke bench-profile venv system-deps clean golden

help:
	@echo "make demo     run the story on a throwaway PostgreSQL (or \$$DATABASE_URL)"
	@echo "make test     pgTAP + pytest on a throwaway cluster"
	@echo "make install  install pgstaging into \$$DATABASE_URL"
	@echo "make lint     sqlfluff on sql/, ruff on py/"
	@echo "make bench    benchmarks (minutes); bench-smoke is the seconds-long CI version"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# Install what is missing from Debian (as root), once.
system-deps:
	@missing=""; \
	for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "run as root, or: sudo apt-get install$$missing" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: venv
	@if [ -z "$$DATABASE_URL" ]; then $(MAKE) --no-print-directory system-deps; fi
	$(PY) -m pgstaging.demo

# A throwaway cluster of our own: the tests create cluster-wide roles.
test: venv system-deps
	$(PY) -m pgstaging.devcluster -- $(MAKE) --no-print-directory test-in-cluster

# Needs DATABASE_URL (owner, no superuser) and PGSTAGING_ADMIN_URL (superuser).
test-in-cluster:
	psql "$$PGSTAGING_ADMIN_URL" -q -v ON_ERROR_STOP=1 -f sql/dev/test_extensions.sql
	$(PY) -m pgstaging install
	pg_prove --dbname "$$PGSTAGING_ADMIN_URL" --failures sql/tests/*.sql
	$(PY) -m pytest -q

# Rewrite sql/golden/ from what the generator writes now; review the diff.
golden: venv system-deps
	$(PY) -m pgstaging.devcluster -- env PGSTAGING_UPDATE_GOLDEN=1 $(PY) -m pytest -q py/tests/test_golden.py

install: venv
	@test -n "$$DATABASE_URL" || { echo "set DATABASE_URL" >&2; exit 1; }
	$(PY) -m pgstaging install

lint: venv
	$(VENV)/bin/sqlfluff lint sql/
	$(VENV)/bin/ruff check py/ bench/
	$(VENV)/bin/ruff format --check py/ bench/

# The bench extra (matplotlib, for the chart) on top of dev.
$(VENV)/.installed-bench: $(VENV)/.installed pyproject.toml
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	touch $@

# One throwaway cluster, one database; table on stdout, chart in bench/results/.
bench: $(VENV)/.installed-bench system-deps
	PGSTAGING_DEVCLUSTER_FSYNC=on $(PY) -m pgstaging.devcluster -- $(PY) bench/run.py

bench-smoke: $(VENV)/.installed-bench system-deps
	$(PY) -m pgstaging.devcluster -- $(PY) bench/run.py --smoke

# EXPLAIN (ANALYZE, BUFFERS) of the promotion and measured what-ifs (~25 min).
bench-profile: $(VENV)/.installed-bench system-deps
	$(PY) -m pgstaging.devcluster -- $(PY) bench/profile.py --explain

clean:
	rm -rf $(VENV) build *.egg-info py/*.egg-info .pytest_cache .ruff_cache
