"""pgstaging's exceptions, mapped from PostgreSQL errors by SQLSTATE."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors as pgerrors


class PgStagingError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with (see README, "Exit codes").

    ``attempts`` is how many times the client tried the call (more than one
    after retries of a deadlock, serialization failure or lock timeout).
    """

    exit_code = 1
    attempts = 1


class ConnectionFailed(PgStagingError):
    exit_code = 3


class UnknownTable(PgStagingError):
    exit_code = 4


class UnknownRun(PgStagingError):
    exit_code = 4


class UnknownActor(PgStagingError):
    exit_code = 4


class PermissionDenied(PgStagingError):
    exit_code = 5


class DatabaseError(PgStagingError):
    exit_code = 6


class BadInput(PgStagingError):
    exit_code = 7


class GateFailed(PgStagingError):
    """A run broke its table's gate: nothing was promoted (failed rows have
    their verdicts, valid rows are held pending) and the run is failed.
    Exit code 9; the summary, with its ``gate`` and ``held_count``, is printed."""

    exit_code = 9


class OutcomeUnknown(PgStagingError):
    """The connection was lost while a promote, retry or unpromote was in flight.

    The call may or may not have committed. The client does not re-run it: it
    reconnects, re-reads the run's ledger (``ledger``: the ``status(run)`` rows,
    or ``None`` when it could not reconnect) and raises this, so the caller
    decides. Promotion, retry and unpromote are idempotent, so calling again
    is safe. Exit code 8.
    """

    exit_code = 8

    def __init__(
        self,
        message: str,
        *,
        action: str,
        table: str,
        workflow_run_id: int,
        ledger: list[Any] | None,
    ):
        super().__init__(message)
        self.action = action
        self.table = table
        self.workflow_run_id = workflow_run_id
        self.ledger = ledger


def _message(error: psycopg.Error) -> str:
    diag = error.diag
    text = diag.message_primary or str(error).strip()
    # pgstaging's own SQL errors already name it; the CLI adds the prefix once.
    text = text.removeprefix("pgstaging: ")
    # The server's DETAIL carries the facts (an unpromote's dependents, the
    # missing ADMIN option): never drop it.
    if diag.message_detail:
        text += f" ({diag.message_detail.strip()})"
    if diag.message_hint:
        text += f" (hint: {diag.message_hint})"
    return text


def translate(error: psycopg.Error) -> PgStagingError:
    """The pgstaging exception for a psycopg error."""
    if isinstance(error, psycopg.OperationalError) and error.sqlstate is None:
        return ConnectionFailed(f"cannot connect to PostgreSQL: {str(error).strip()}")
    if isinstance(error, pgerrors.InsufficientPrivilege):
        return PermissionDenied(f"permission denied: {_message(error)}")
    if isinstance(error, pgerrors.UndefinedTable):
        return UnknownTable(_message(error))
    if isinstance(error, pgerrors.ForeignKeyViolation):
        constraint = error.diag.constraint_name or ""
        if "workflow_run" in constraint:
            return UnknownRun(f"unknown workflow run: {_message(error)}")
        if "actor" in constraint:
            return UnknownActor(f"unknown actor: {_message(error)}")
    return DatabaseError(f"database error {error.sqlstate}: {_message(error)}")
