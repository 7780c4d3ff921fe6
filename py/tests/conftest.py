"""Fixtures: a real PostgreSQL, never a mock.

Under `make test` the throwaway cluster is given by PGSTAGING_ADMIN_URL
(superuser) and DATABASE_URL (owner). Run alone, pytest starts its own. A
template database gets pgstaging once; each test gets a fresh copy
(CREATE DATABASE ... TEMPLATE), owned by the non-superuser owner.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from pgstaging import install, sqlfiles
from pgstaging.client import StagingClient
from pgstaging.devcluster import OWNER, temp_cluster
from psycopg import sql
from psycopg.conninfo import make_conninfo

TEMPLATE = "pgstaging_template"
_counter = itertools.count()


@dataclass(frozen=True)
class Database:
    """One test's database: URLs for the owner, the superuser and any login."""

    name: str
    admin_server_url: str

    def url(self, user: str = OWNER) -> str:
        return make_conninfo(self.admin_server_url, user=user, dbname=self.name)

    @property
    def owner_url(self) -> str:
        return self.url(OWNER)

    @property
    def admin_url(self) -> str:
        return make_conninfo(self.admin_server_url, dbname=self.name)

    def connect(self, user: str = OWNER, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.url(user), **kwargs)

    def client(self, user: str = OWNER) -> StagingClient:
        return StagingClient.connect(self.url(user))


@pytest.fixture(scope="session")
def admin_server_url() -> Iterator[str]:
    """A superuser URL to the cluster's maintenance database."""
    if url := os.environ.get("PGSTAGING_ADMIN_URL"):
        yield make_conninfo(url, dbname="postgres")
        return
    with temp_cluster() as cluster:
        yield cluster.url("postgres", "postgres")


def _admin(admin_server_url: str) -> psycopg.Connection:
    return psycopg.connect(admin_server_url, autocommit=True)


@pytest.fixture(scope="session")
def template_db(admin_server_url: str) -> str:
    with _admin(admin_server_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(TEMPLATE), sql.Identifier(OWNER)
            )
        )
    install(make_conninfo(admin_server_url, user=OWNER, dbname=TEMPLATE))
    with psycopg.connect(make_conninfo(admin_server_url, dbname=TEMPLATE), autocommit=True) as conn:
        conn.execute(sqlfiles.query("dev/create_test_logins.sql"))
    return TEMPLATE


@pytest.fixture
def db(admin_server_url: str, template_db: str) -> Iterator[Database]:
    name = f"pgstaging_test_{os.getpid()}_{next(_counter)}"
    with _admin(admin_server_url) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(template_db), sql.Identifier(OWNER)
            )
        )
    yield Database(name, admin_server_url)
    with _admin(admin_server_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def empty_db(admin_server_url: str, template_db: str) -> Iterator[Database]:
    """A fresh database owned by the owner, without pgstaging (roles and logins exist).

    Depends on template_db so that the cluster-wide roles and test logins exist.
    """
    name = f"pgstaging_empty_{os.getpid()}_{next(_counter)}"
    with _admin(admin_server_url) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(OWNER)
            )
        )
    yield Database(name, admin_server_url)
    with _admin(admin_server_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def owner(db: Database) -> Iterator[StagingClient]:
    """A client connected as the owner (starts runs, registers actors)."""
    with db.client() as client:
        yield client


@pytest.fixture
def script(db: Database) -> Iterator[StagingClient]:
    with db.client("script_login") as client:
        yield client


@pytest.fixture
def validator(db: Database) -> Iterator[StagingClient]:
    with db.client("validator_login") as client:
        yield client


@pytest.fixture
def run_id(owner: StagingClient) -> int:
    return owner.start_run()


@pytest.fixture
def actor_id(owner: StagingClient) -> int:
    return owner.register_actor("test_fetcher")
