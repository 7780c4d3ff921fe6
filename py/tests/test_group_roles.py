"""Several owners in one cluster: group role names per install, and no leak between databases.

Two databases, each with its own non-superuser CREATEROLE owner, install
pgstaging with default settings; each owner grants the group roles to its
own logins, binds them to actors, stages and promotes. A login of one
database gets 42501 for everything in the other. On 16+ the scenario runs
again with ``createrole_self_grant = 'set, inherit'`` (the GUC does not
exist before 16).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import count

import psycopg
import pytest
from pgstaging import StagingClient, install
from pgstaging.errors import PermissionDenied, PgStagingError
from psycopg import sql
from psycopg.conninfo import make_conninfo
from support import fetch_all, fetch_one, run_cli

KINDS = ("script", "validator", "reader", "steward")
_names = count()


def server_version(admin_url: str) -> int:
    return int(fetch_one(admin_url, "SHOW server_version_num")[0])


class Tenant:
    """One database of the shared cluster, with its own CREATEROLE owner and logins."""

    def __init__(self, admin_server_url: str, tag: str, self_grant: str | None):
        self.admin_server_url = admin_server_url
        self.owner = f"owner_{tag}"
        self.dbname = f"tenant_{tag}"
        self.logins = {kind: f"{tag}_{kind}" for kind in ("script", "validator", "reader")}
        with psycopg.connect(admin_server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(sql.Identifier(self.owner))
            )
            if self_grant is not None:
                conn.execute(
                    sql.SQL("ALTER ROLE {} SET createrole_self_grant = {}").format(
                        sql.Identifier(self.owner), sql.Literal(self_grant)
                    )
                )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(self.dbname), sql.Identifier(self.owner)
                )
            )

    def url(self, user: str | None = None) -> str:
        return make_conninfo(self.admin_server_url, user=user or self.owner, dbname=self.dbname)

    def setup(self) -> None:
        """As the owner only: install, create and grant logins, bind actors, give rights."""
        install(self.url())
        with psycopg.connect(self.url(), autocommit=True) as conn:
            for kind, login in self.logins.items():
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(login)))
                (group,) = conn.execute("SELECT pgstaging.group_role(%s)", (kind,)).fetchone()
                conn.execute(
                    sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(login))
                )
            conn.execute(
                "SELECT pgstaging.add_actor('fetcher', %s)", (self.logins["script"],)
            ).fetchone()
            conn.execute("SELECT pgstaging.allow_actor('fetcher', 'postings', 'stage')")

    def group_roles(self) -> dict[str, str]:
        return dict(fetch_all(self.url(), "SELECT role_kind, role_name FROM pgstaging.group_roles"))

    def drop(self) -> None:
        with psycopg.connect(self.admin_server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.dbname)
                )
            )


@pytest.fixture
def tenants(admin_server_url: str, template_db: str) -> Iterator[callable]:
    made: list[Tenant] = []

    def make(self_grant: str | None = None) -> Tenant:
        tenant = Tenant(admin_server_url, f"{os.getpid()}_{next(_names)}", self_grant)
        made.append(tenant)
        return tenant

    yield make
    for tenant in made:
        tenant.drop()


SELF_GRANTS = [
    pytest.param(None, id="createrole_self_grant unset"),
    pytest.param("set, inherit", id="createrole_self_grant set, inherit"),
]


@pytest.mark.parametrize("self_grant", SELF_GRANTS)
def test_two_owners_in_one_cluster_install_with_defaults_and_stay_isolated(
    tenants, admin_server_url, self_grant
):
    if self_grant is not None and server_version(admin_server_url) < 160000:
        pytest.skip("createrole_self_grant exists from PostgreSQL 16 on")
    a, b = tenants(self_grant), tenants(self_grant)
    a.setup()
    b.setup()

    # Names per install, from the database's name; nothing shared.
    roles_a, roles_b = a.group_roles(), b.group_roles()
    assert roles_a == {kind: f"staging_{a.dbname}_{kind}" for kind in KINDS}
    assert set(roles_a.values()).isdisjoint(roles_b.values())
    # Each owner got what it needs from CREATEROLE alone: no superuser anywhere.
    assert fetch_all(
        admin_server_url,
        "SELECT rolname, rolsuper FROM pg_roles WHERE rolname = ANY (%s) ORDER BY 1",
        ([a.owner, b.owner],),
    ) == [(a.owner, False), (b.owner, False)]

    # In its own database, each tenant's logins stage and promote.
    for tenant in (a, b):
        with StagingClient.connect(tenant.url()) as owner:
            run_id = owner.start_run()
        with StagingClient.connect(tenant.url(tenant.logins["script"])) as script:
            script.stage("postings", run_id, "fetcher", [{"job_id": "T-1", "title": "Mine"}])
        with StagingClient.connect(tenant.url(tenant.logins["validator"])) as validator:
            assert validator.promote("postings", run_id).promoted_count == 1
        tenant.run_id = run_id
        with psycopg.connect(tenant.url(tenant.logins["reader"])) as conn:
            assert conn.execute("SELECT count(*) FROM postings").fetchone() == (1,)

    # Across databases: every attempt is refused with 42501.
    for mine, other in ((a, b), (b, a)):
        with (
            StagingClient.connect(other.url(mine.logins["script"])) as script,
            pytest.raises(PermissionDenied),
        ):
            script.stage("postings", other.run_id, 1, [{"job_id": "X-1", "title": "Theirs"}])
        with (
            StagingClient.connect(other.url(mine.logins["validator"])) as validator,
            pytest.raises(PermissionDenied),
        ):
            validator.promote("postings", other.run_id)
        with psycopg.connect(other.url(mine.logins["reader"])) as conn:
            for relation in ("postings", "postings_staging", "pgstaging.promotion_log"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(f"SELECT count(*) FROM {relation}")
                conn.rollback()
    # Nothing leaked in: each database still has its one row, staged by its own login.
    for tenant in (a, b):
        assert fetch_all(tenant.url(), "SELECT inserted_by, outcome FROM postings_staging") == [
            (tenant.logins["script"], "promoted")
        ]


def test_long_prefixes_get_distinct_names_within_63_bytes(db):
    long_a = "staging_" + "é" * 30 + "_tenant_a"
    long_b = "staging_" + "é" * 30 + "_tenant_b"
    rows = fetch_all(
        db.owner_url,
        """SELECT p, k, pgstaging.derive_group_role(p, k)::text
           FROM unnest(%s::text[]) AS p, unnest(%s::text[]) AS k""",
        ([long_a, long_b, "short"], list(KINDS)),
    )
    names = [r[2] for r in rows]
    assert len(set(names)) == len(names)
    assert all(len(n.encode()) <= 63 for n in names)
    assert all(name.endswith("_" + kind) for _, kind, name in rows)
    assert "short_validator" in names
    # Cut on a character boundary: every name is valid UTF-8 that starts like its prefix.
    assert all(name.startswith(p[:10]) for p, _, name in rows)


def test_an_explicit_prefix_names_the_roles_and_cannot_change_later(empty_db):
    prefix = f"app{os.getpid()}"
    install(empty_db.owner_url, role_prefix=prefix)
    assert fetch_one(empty_db.owner_url, "SELECT pgstaging.group_role('steward')") == (
        f"{prefix}_steward",
    )
    assert install(empty_db.owner_url, role_prefix=prefix, force=True).changed
    with pytest.raises(PgStagingError, match="prefix"):
        install(empty_db.owner_url, role_prefix="other", force=True)


def test_an_existing_role_without_admin_fails_naming_the_role_and_the_option(
    empty_db, admin_server_url
):
    prefix = f"taken{os.getpid()}"
    role = f"{prefix}_reader"
    modern = server_version(admin_server_url) >= 160000
    with psycopg.connect(admin_server_url, autocommit=True) as conn:
        # On 16+ a role the owner did not create is out of its reach; on 15
        # CREATEROLE may grant any role but a superuser.
        attributes = "NOLOGIN" if modern else "NOLOGIN SUPERUSER"
        conn.execute(sql.SQL(f"CREATE ROLE {{}} {attributes}").format(sql.Identifier(role)))
    with pytest.raises(PermissionDenied) as caught:
        install(empty_db.owner_url, role_prefix=prefix)
    assert f'role "{role}"' in str(caught.value) and "ADMIN option" in str(caught.value)
    assert fetch_one(empty_db.admin_url, "SELECT to_regnamespace('pgstaging')") == (None,)
    if modern:
        with psycopg.connect(admin_server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("GRANT {} TO {} WITH ADMIN OPTION").format(
                    sql.Identifier(role), sql.Identifier("pgstaging_owner")
                )
            )
        assert install(empty_db.owner_url, role_prefix=prefix).changed
        assert fetch_one(empty_db.owner_url, "SELECT pgstaging.group_role('reader')") == (role,)


def test_the_cli_takes_a_role_prefix(empty_db):
    prefix = f"cli{os.getpid()}"
    done = run_cli("install", "--role-prefix", prefix, url=empty_db.owner_url)
    assert done.returncode == 0, done.stderr
    assert fetch_all(
        empty_db.owner_url, "SELECT role_kind, role_name FROM pgstaging.group_roles ORDER BY 1"
    ) == [(kind, f"{prefix}_{kind}") for kind in sorted(KINDS)]
