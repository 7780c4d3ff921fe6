"""Load the package's SQL from .sql files (never from Python strings)."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

from psycopg import sql


def _root():
    return resources.files("pgstaging") / "sql"


@cache
def text(name: str) -> str:
    """The text of ``sql/<name>``, e.g. ``client/promote.sql``."""
    return (_root() / name).read_text(encoding="utf-8")


def query(name: str) -> sql.SQL:
    """A file as a psycopg query object; compose with ``.format(...)`` where it has {slots}."""
    return sql.SQL(text(name))  # type: ignore[arg-type]


def install_files() -> list[str]:
    """The install scripts, in the order given by ``sql/install.list``."""
    names = []
    for line in text("install.list").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.append(line)
    return names


def install_checksum(extra: list[tuple[str, str]] = ()) -> str:
    """A digest of every install script (and extra spec), to tell a no-op install."""
    digest = hashlib.sha256()
    for name, body in [(n, text(n)) for n in install_files()] + list(extra):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(body.encode())
    return digest.hexdigest()
