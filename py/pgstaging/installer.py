"""Install or upgrade pgstaging's SQL, idempotently, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pgstaging import sqlfiles
from pgstaging.errors import PgStagingError, translate


@dataclass(frozen=True)
class InstallResult:
    version: str
    target_schema: str
    changed: bool
    previous_version: str | None
    # What the SQL reported doing to existing tables (adoption, guard modes).
    messages: tuple[str, ...] = ()


def _version() -> str:
    from pgstaging import __version__

    return __version__


def install(
    conninfo: str,
    *,
    target_schema: str = "public",
    lock_timeout: str = "10s",
    force: bool = False,
    specs: Sequence[str | Path] = (),
    role_prefix: str | None = None,
) -> InstallResult:
    """Install pgstaging into the database at ``conninfo``.

    Runs every file of ``sql/install.list`` in one transaction, so a failed
    install leaves nothing behind. A second install of the same scripts is a
    no-op (recorded nothing, changes nothing) unless ``force`` is set.
    ``specs`` are extra spec files (your own staged tables), run after the
    package's own, in the given order, in the same transaction.
    """
    extra = []
    for path in specs:
        try:
            extra.append((str(path), Path(path).read_text(encoding="utf-8")))
        except OSError as error:
            raise PgStagingError(f"cannot read spec {path}: {error.strerror}") from error
    try:
        with psycopg.connect(conninfo) as conn:
            return _install(conn, target_schema, lock_timeout, force, extra, role_prefix)
    except psycopg.Error as error:
        raise translate(error) from error


def _install(
    conn: psycopg.Connection,
    target_schema: str,
    lock_timeout: str,
    force: bool,
    extra: list[tuple[str, str]],
    role_prefix: str | None = None,
):
    checksum = sqlfiles.install_checksum(extra)
    version = _version()
    messages: list[str] = []

    def collect(notice: psycopg.errors.Diagnostic) -> None:
        if notice.severity_nonlocalized == "NOTICE" and (notice.message_primary or "").startswith(
            "pgstaging: "
        ):
            messages.append(notice.message_primary)

    conn.add_notice_handler(collect)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(sqlfiles.query("install/server_version.sql"))
        (supported, oldest, server_version) = cur.fetchone()
        if not supported:
            raise PgStagingError(
                f"pgstaging needs PostgreSQL {oldest} or newer; this server is {server_version}"
            )
        cur.execute(sqlfiles.query("install/lock_timeout.sql"), {"lock_timeout": lock_timeout})
        cur.execute(sqlfiles.query("install/lock.sql"))
        cur.execute(sqlfiles.query("install/target_schema.sql"), {"target_schema": target_schema})
        (target_exists, _) = cur.fetchone()
        if not target_exists:
            raise PgStagingError(f'target schema "{target_schema}" does not exist; create it first')

        previous = None
        cur.execute(sqlfiles.query("install/ledger_exists.sql"))
        if cur.fetchone()[0]:
            cur.execute(sqlfiles.query("install/current.sql"))
            previous = cur.fetchone()
        if previous is not None and previous[2] != target_schema:
            raise PgStagingError(
                f'pgstaging is installed in schema "{previous[2]}", not "{target_schema}"'
            )
        if previous == (version, checksum, target_schema) and not force:
            return InstallResult(version, target_schema, changed=False, previous_version=version)

        cur.execute(sqlfiles.query("install/role_prefix.sql"), {"role_prefix": role_prefix or ""})
        for name in sqlfiles.install_files():
            if name.endswith(".json"):
                # A JSON Schema file (the spec format): loaded as data.
                cur.execute(
                    sqlfiles.query("install/load_spec_format.sql"),
                    {"name": name, "document": sqlfiles.text(name)},
                )
            else:
                cur.execute(sqlfiles.query(name))
        for _, text in extra:
            cur.execute(text.encode())
        cur.execute(
            sqlfiles.query("install/record.sql"),
            {"version": version, "checksum": checksum, "target_schema": target_schema},
        )
    return InstallResult(
        version,
        target_schema,
        changed=True,
        previous_version=previous[0] if previous else None,
        messages=tuple(messages),
    )
