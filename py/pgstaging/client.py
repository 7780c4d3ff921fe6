"""A thin, typed client over pgstaging's SQL functions."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.rows import class_row

from pgstaging import sqlfiles
from pgstaging.errors import (
    ConnectionFailed,
    OutcomeUnknown,
    PgStagingError,
    UnknownActor,
    UnknownRun,
    translate,
)

BATCH_SIZE = 1000
# Deadlock, serialization failure, lock timeout: the transaction was rolled
# back whole, so a call that owns its transaction can simply run again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001", "55P03"})
RETRIES = 3
BACKOFF = 0.05  # seconds before the first retry; doubles each time, with jitter
ALERT_PAGE = 1000  # alerts read per query when catching up
GAP_WAIT = 300.0  # seconds a watcher waits for an alert id committed out of order

T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    staging_id: int
    actor_id: int | None
    inserted_by: str
    created_at: datetime
    validation_errors: list[dict[str, str]]
    raw_data: Any


@dataclass(frozen=True)
class RunStatus:
    table_name: str
    staged: int
    pending: int
    promoted: int
    duplicate: int
    updated: int
    failed: int
    rolled_back: int
    superseded: int


@dataclass(frozen=True)
class Health:
    table_name: str
    pending_count: int
    oldest_pending_age: timedelta | None
    judged_count: int
    failed_count: int
    failure_rate: Decimal | None
    failures_by_actor: list[dict[str, Any]]
    failures_by_error: list[dict[str, Any]]
    unknown_keys: list[dict[str, Any]]


@dataclass(frozen=True)
class GuardStatus:
    """A staged table's guard mode and what observe mode has seen."""

    table_name: str
    mode: str
    adopted: bool
    unstaged_rows: int
    direct_writes_last_day: int


@dataclass(frozen=True)
class DirectWriter:
    table_name: str
    login: str
    application_name: str
    statements: int
    row_count: int
    last_seen: datetime


@dataclass(frozen=True)
class PromotionResult:
    """The design's summary: ``as_json()`` gives it back exactly."""

    summary: dict[str, Any]

    @property
    def promoted_count(self) -> int:
        return self.summary["promoted_count"]

    @property
    def duplicate_count(self) -> int:
        return self.summary["duplicate_count"]

    @property
    def failed_count(self) -> int:
        return self.summary["failed_count"]

    @property
    def status(self) -> str:
        """SUCCESS, or FAILED when the run broke its table's gate (nothing promoted)."""
        return self.summary["status"]

    @property
    def gate(self) -> dict[str, Any] | None:
        """The gate's verdict ({rule, limit, actual}) when it held the run or was ignored."""
        return self.summary.get("gate")

    @property
    def promoted(self) -> list[dict[str, int]]:
        return self.summary["details"]["promoted"]

    @property
    def duplicates(self) -> list[dict[str, int]]:
        return self.summary["details"]["duplicates"]

    @property
    def failed(self) -> list[dict[str, Any]]:
        return self.summary["details"]["failed"]

    def as_json(self) -> dict[str, Any]:
        """The summary with the design's key order (jsonb sorts keys its own way)."""
        first = (
            "status",
            "promoted_count",
            "duplicate_count",
            "updated_count",
            "failed_count",
            "held_count",
            "gate",
        )
        ordered = {key: self.summary[key] for key in first if key in self.summary}
        return ordered | self.summary


class _AlertCursor:
    """What a watcher has seen: every id up to ``after``, and ``seen`` above it.

    Identity values are handed out at INSERT and committed in any order, so
    an id missing below a seen one may still come (a transaction in flight)
    or never (rolled back): it is waited for ``gap_wait`` seconds.
    """

    def __init__(self, after: int | None):
        self.after = after
        self.seen: set[int] = set()
        self.gaps: dict[int, float] = {}

    def see(self, alert_id: int) -> bool:
        if alert_id <= self.after or alert_id in self.seen:
            return False
        self.seen.add(alert_id)
        self.gaps.pop(alert_id, None)
        return True

    def advance(self, gap_wait: float) -> None:
        now = time.monotonic()
        top = max(self.seen, default=self.after)
        for missing in range(self.after + 1, top):
            if missing not in self.seen:
                self.gaps.setdefault(missing, now)
        while self.after < top:
            following = self.after + 1
            if following in self.seen:
                self.seen.discard(following)
            elif now - self.gaps.get(following, now) >= gap_wait:
                del self.gaps[following]
            else:
                return
            self.after = following


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class StagingClient:
    """Calls pgstaging's functions on one psycopg connection.

    Each method runs in its own transaction unless the connection is
    already inside one (``with conn.transaction():``), so callers can group
    staging and promotion atomically.

    A call that owns its transaction (the connection was idle) is retried up
    to ``retries`` times, with exponential backoff and jitter, on a deadlock
    (40P01), a serialization failure (40001) or a lock timeout (55P03); then
    the error is raised with ``attempts`` set. Inside a caller's transaction
    nothing is retried. ``stage`` and ``stage_copy`` are not retried (their
    documents may be a one-shot iterator).

    If the connection is lost during ``promote``, ``retry`` or ``unpromote``
    in a transaction of its own, the call is not re-run: the client
    reconnects (when it was made by ``connect()``), re-reads the run's
    ledger and raises ``OutcomeUnknown``.
    """

    def __init__(
        self,
        conn: psycopg.Connection,
        *,
        conninfo: str | None = None,
        connect_kwargs: dict[str, Any] | None = None,
        retries: int = RETRIES,
        backoff: float = BACKOFF,
    ):
        self.conn = conn
        self.retries = retries
        self.backoff = backoff
        self._conninfo = conninfo
        self._connect_kwargs = dict(connect_kwargs or {})

    @classmethod
    def connect(
        cls,
        conninfo: str = "",
        *,
        retries: int = RETRIES,
        backoff: float = BACKOFF,
        **kwargs: Any,
    ) -> StagingClient:
        """Connect with ``conninfo`` and psycopg's ``kwargs``; both are kept to reconnect."""
        try:
            conn = psycopg.connect(conninfo, **kwargs)
        except psycopg.Error as error:
            raise translate(error) from error
        return cls(conn, conninfo=conninfo, connect_kwargs=kwargs, retries=retries, backoff=backoff)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> StagingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs and actors -------------------------------------------------

    def start_run(self, workflow_id: int | None = None) -> int:
        """Start a run with ``pgstaging.start_run``; return its ``workflow_run_id``.

        For the owner, validators and actors with the ``start`` right. Where
        the workflow engine owns ``workflow_runs``, use ``register_run``.
        """
        return self._scalar("client/start_run.sql", {"workflow_id": workflow_id})

    def register_run(self, workflow_run_id: int, workflow_id: int | None = None) -> int:
        """Register a run the workflow engine already made (idempotent)."""
        return self._scalar(
            "client/register_run.sql",
            {"workflow_run_id": workflow_run_id, "workflow_id": workflow_id},
        )

    def end_run(self, workflow_run_id: int, status: str) -> dict[str, Any]:
        """End a run as ``succeeded`` or ``failed``; return its ``pgstaging.runs`` state."""
        return self._scalar(
            "client/end_run.sql", {"workflow_run_id": workflow_run_id, "status": status}
        )

    def register_actor(self, actor_name: str) -> int:
        """Create the actor if missing (needs INSERT on actors); return its id."""
        return self._scalar("client/register_actor.sql", {"actor_name": actor_name})

    def actor_id(self, actor: str | int) -> int:
        """Resolve an actor given by id or by name."""
        if isinstance(actor, int) or str(actor).isdigit():
            return int(actor)
        found = self._scalar("client/actor_id.sql", {"actor_name": actor}, allow_none=True)
        if found is None:
            raise UnknownActor(f'unknown actor "{actor}"; register it first')
        return found

    def run_exists(self, workflow_run_id: int) -> bool:
        return self._scalar("client/run_exists.sql", {"workflow_run_id": workflow_run_id})

    def require_run(self, workflow_run_id: int) -> None:
        if not self.run_exists(workflow_run_id):
            raise UnknownRun(f"unknown workflow run {workflow_run_id}")

    # -- staging ---------------------------------------------------------

    def stage(
        self,
        table: str,
        workflow_run_id: int,
        actor: str | int | None,
        documents: Iterable[Any],
        *,
        interaction_id: int | None = None,
        batch_size: int = BATCH_SIZE,
        operation: str = "insert",
    ) -> list[int]:
        """Stage JSON documents as raw rows; return their staging ids in input order.

        ``documents`` may be any iterable (a generator streams). All batches
        go in one transaction: either every document is staged or none is.
        ``operation="patch"`` stages patches: each names a production row by
        its natural key and carries only the fields it changes.
        """
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                actor_id = None if actor is None else self.actor_id(actor)
                query = sqlfiles.query("client/stage_rows.sql").format(
                    staging_table=self._staging_identifier(table)
                )
                ids: list[int] = []
                for batch in _batches(documents, batch_size):
                    cur.execute(
                        query,
                        {
                            "workflow_run_id": workflow_run_id,
                            "actor_id": actor_id,
                            "interaction_id": interaction_id,
                            "documents": [_dumps(d) for d in batch],
                            "operation": operation,
                        },
                    )
                    # Identity values rise within one statement: sorted = input order.
                    ids.extend(sorted(row[0] for row in cur.fetchall()))
                return ids
        except psycopg.Error as error:
            raise translate(error) from error

    def stage_copy(
        self,
        table: str,
        workflow_run_id: int,
        actor: str | int | None,
        documents: Iterable[Any],
        *,
        interaction_id: int | None = None,
    ) -> int:
        """Stage JSON documents by COPY, streaming; return how many were staged.

        The fastest path, for bulk loads: memory stays flat whatever the count,
        but no staging ids come back.
        """
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                actor_id = None if actor is None else self.actor_id(actor)
                query = sqlfiles.query("client/copy_rows.sql").format(
                    staging_table=self._staging_identifier(table)
                )
                count = 0
                with cur.copy(query) as copy:
                    for document in documents:
                        copy.write_row(
                            (workflow_run_id, actor_id, interaction_id, _dumps(document))
                        )
                        count += 1
                return count
        except psycopg.Error as error:
            raise translate(error) from error

    # -- promotion and reports ------------------------------------------

    def promote(
        self,
        table: str,
        workflow_run_id: int,
        *,
        dry_run: bool = False,
        interaction_id: int | None = None,
        ignore_gate: bool = False,
    ) -> PromotionResult:
        """Run ``promote_{table}_staging(run_id)``; return the design's summary.

        With ``dry_run`` the same summary comes back and nothing changes. A run
        that breaks its table's gate comes back with ``status == "FAILED"``;
        ``ignore_gate`` promotes it anyway (logged).
        """
        summary = self._change(
            "promote",
            table,
            workflow_run_id,
            "client/promote.sql",
            {
                "table": table,
                "workflow_run_id": workflow_run_id,
                "dry_run": dry_run,
                "interaction_id": interaction_id,
                "ignore_gate": ignore_gate,
            },
        )
        return PromotionResult(summary)

    def retry(
        self,
        table: str,
        workflow_run_id: int,
        *,
        interaction_id: int | None = None,
        ignore_gate: bool = False,
    ) -> PromotionResult:
        """Re-judge a run's failed (and rolled back) rows under the current rules."""
        summary = self._change(
            "retry",
            table,
            workflow_run_id,
            "client/retry.sql",
            {
                "table": table,
                "workflow_run_id": workflow_run_id,
                "interaction_id": interaction_id,
                "ignore_gate": ignore_gate,
            },
        )
        return PromotionResult(summary)

    def unpromote(
        self,
        table: str,
        workflow_run_id: int,
        *,
        reason: str | None = None,
        cascade: bool = False,
        interaction_id: int | None = None,
    ) -> dict[str, Any]:
        """Take a run's promotions back out of production; staged rows are kept."""
        return self._change(
            "unpromote",
            table,
            workflow_run_id,
            "client/unpromote.sql",
            {
                "table": table,
                "workflow_run_id": workflow_run_id,
                "reason": reason,
                "cascade": cascade,
                "interaction_id": interaction_id,
            },
        )

    # -- specs -------------------------------------------------------------

    def captured_specs(self, script: str) -> list[dict[str, Any]]:
        """The specs a spec file (SQL, as ``install --spec`` takes) registers; nothing is kept."""
        try:
            with self.conn.transaction(force_rollback=True), self.conn.cursor() as cur:
                cur.execute(sqlfiles.query("client/capture_specs.sql"))
                cur.execute(sqlfiles.query("client/capture_on.sql"))
                cur.execute(script.encode())
                cur.execute(sqlfiles.query("client/captured_specs.sql"))
                return [row[0] for row in cur.fetchall()]
        except psycopg.Error as error:
            raise translate(error) from error

    def compile_spec(self, spec: dict[str, Any]) -> list[tuple[str, str]]:
        """The statements a spec compiles to, as (step, SQL); nothing is registered."""
        return self._all("client/compile_spec.sql", {"spec": json.dumps(spec)})

    def try_spec(self, spec: dict[str, Any], runs: list[int] | None = None) -> dict[str, Any]:
        """How verdicts of staged rows would change under a candidate spec; changes nothing."""
        return self._scalar("client/try_spec.sql", {"spec": json.dumps(spec), "runs": runs})

    def spec_show(self, table: str) -> dict[str, Any]:
        """The registered spec of a table, its rule versions, and its generated SQL."""

        def once() -> dict[str, Any]:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.execute(sqlfiles.query("client/spec_show.sql"), {"table": table})
                names = [column.name for column in cur.description]
                return dict(zip(names, cur.fetchone(), strict=True))

        return self._attempt(once)

    def promote_batch(self, table: str, batch_size: int = 10000) -> dict[str, Any]:
        """Promote up to ``batch_size`` pending rows of any run (SKIP LOCKED); one transaction."""
        return self._scalar("client/promote_batch.sql", {"table": table, "batch_size": batch_size})

    def promote_all(
        self, table: str, batch_size: int = 10000, on_batch: Any = None
    ) -> dict[str, int]:
        """Batch mode: promote every pending row of a table, one committed batch at a time.

        Stops when nothing is pending, or when a batch gave no row a verdict
        (the next would pick the same rows): those stay pending, counted in
        ``left_pending``.
        """
        counts = ("promoted_count", "duplicate_count", "updated_count", "failed_count")
        totals = {"batches": 0, "rows": 0, **dict.fromkeys(counts, 0), "left_pending": 0}
        while True:
            result = self.promote_batch(table, batch_size)
            if not result["batch_size"]:
                return totals
            judged = sum(result.get(key, 0) for key in counts)
            totals["batches"] += 1
            totals["rows"] += result["batch_size"]
            for key in counts:
                totals[key] += result.get(key, 0)
            if on_batch is not None:
                on_batch(result)
            if not judged:
                totals["left_pending"] = result["batch_size"]
                return totals

    def pending_count(self, table: str) -> int:
        return self._scalar("client/pending_count.sql", {"table": table})

    def health(self) -> list[Health]:
        return self._rows("client/health.sql", {}, Health)

    def set_guard(self, table: str, mode: str, *, force: bool = False) -> dict[str, Any]:
        """Owner only: ``observe`` or ``enforce``; returns table, mode, previous_mode."""
        return self._scalar("client/set_guard.sql", {"table": table, "mode": mode, "force": force})

    def guard_status(self) -> list[GuardStatus]:
        return self._rows("client/guard_status.sql", {}, GuardStatus)

    def direct_writers(self, days: int = 7) -> list[DirectWriter]:
        return self._rows("client/direct_writers.sql", {"days": days}, DirectWriter)

    def restage(self, table: str, staging_id: int, raw_data: Any) -> int:
        """Owner only: stage a corrected copy of a row; the original stays as it was."""
        return self._scalar(
            "client/restage.sql",
            {"table": table, "staging_id": staging_id, "raw_data": _dumps(raw_data)},
        )

    def alerts(
        self,
        timeout: float | None = None,
        *,
        since: int | None = None,
        poll: float | None = None,
        gap_wait: float = GAP_WAIT,
    ) -> Iterator[dict[str, Any]]:
        """Yield alerts (rows of ``pgstaging.alerts``) in ``alert_id`` order, none lost.

        Each is ``{"alert_id", "sent_at", **payload}``. With ``since``, first
        every alert whose id is greater; without, only new ones. Then it
        follows: on LISTEN ``staging_alerts`` (each notification wakes a
        catch-up read of the table), or, with ``poll``, by reading the table
        every ``poll`` seconds (no LISTEN: for transaction-pooling PgBouncer).
        A dropped connection (server restart) is re-made until ``timeout``,
        and the catch-up read finds what was sent meanwhile. Ids commit out of
        order, so a missing id is waited for up to ``gap_wait`` seconds.
        Needs SELECT on ``pgstaging.alerts`` (``staging_reader``); the
        connection is switched to autocommit.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        cursor = _AlertCursor(since)
        listening = False
        while True:
            try:
                if not self.conn.autocommit:
                    self.conn.autocommit = True
                if poll is None and not listening:
                    self.conn.execute(sqlfiles.query("client/listen.sql"))
                    listening = True
                if cursor.after is None:
                    query = sqlfiles.query("client/last_alert_id.sql")
                    cursor.after = self.conn.execute(query).fetchone()[0]
                yield from self._catch_up(cursor, gap_wait)
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return
                # Wake up now and then while an id is missing, to let it go.
                wait = left if not cursor.gaps else min(gap_wait, left or gap_wait)
                if poll is None:
                    for _ in self.conn.notifies(timeout=wait, stop_after=1):
                        pass
                else:
                    time.sleep(poll if wait is None else min(poll, wait))
            except psycopg.Error as error:
                if not self.conn.broken:
                    raise translate(error) from error
                listening = False
                self._reconnect_until(deadline, error)

    def _catch_up(self, cursor: _AlertCursor, gap_wait: float) -> Iterator[dict[str, Any]]:
        query = sqlfiles.query("client/alerts_since.sql")
        while True:
            rows = self.conn.execute(
                query,
                {"after": cursor.after, "seen": sorted(cursor.seen), "limit": ALERT_PAGE},
            ).fetchall()
            for alert_id, sent_at, payload in rows:
                if cursor.see(alert_id):
                    yield {"alert_id": alert_id, "sent_at": sent_at, **payload}
            cursor.advance(gap_wait)
            if len(rows) < ALERT_PAGE:
                return

    def _reconnect_until(self, deadline: float | None, lost: psycopg.Error) -> None:
        """Reconnect after a lost connection, patiently (a restart takes seconds)."""
        delay = 0.2
        while True:
            try:
                self._reconnect()
                return
            except PgStagingError as error:
                if deadline is not None and time.monotonic() + delay > deadline:
                    message = f"lost the connection and could not reconnect: {error}"
                    raise ConnectionFailed(message) from lost
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def failures(self, table: str, workflow_run_id: int) -> list[Failure]:
        return self._rows(
            "client/failures.sql", {"table": table, "workflow_run_id": workflow_run_id}, Failure
        )

    def status(self, workflow_run_id: int) -> list[RunStatus]:
        return self._rows("client/run_status.sql", {"workflow_run_id": workflow_run_id}, RunStatus)

    # -- helpers ---------------------------------------------------------

    def _staging_identifier(self, table: str) -> sql.Identifier:
        with self.conn.cursor() as cur:
            cur.execute(sqlfiles.query("client/staged_table.sql"), {"table": table})
            schema_name, table_name = cur.fetchone()
        return sql.Identifier(schema_name, table_name)

    def _scalar(self, name: str, params: dict[str, Any], allow_none: bool = False) -> Any:
        def once() -> Any:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.execute(sqlfiles.query(name), params)
                return cur.fetchone()

        row = self._attempt(once)
        if row is None and allow_none:
            return None
        return row[0]

    def _all(self, name: str, params: dict[str, Any]) -> list[tuple]:
        def once() -> list[tuple]:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.execute(sqlfiles.query(name), params)
                return cur.fetchall()

        return self._attempt(once)

    def _rows(self, name: str, params: dict[str, Any], kind: type) -> list[Any]:
        def once() -> list[Any]:
            with self.conn.transaction(), self.conn.cursor(row_factory=class_row(kind)) as cur:
                cur.execute(sqlfiles.query(name), params)
                return cur.fetchall()

        return self._attempt(once)

    def _owns_transaction(self) -> bool:
        return self.conn.info.transaction_status == TransactionStatus.IDLE

    def _attempt(self, once: Callable[[], T]) -> T:
        """Run ``once``; retry transient conflicts when the call owns its transaction."""
        owns = self._owns_transaction()
        attempt = 1
        while True:
            try:
                return once()
            except psycopg.Error as error:
                if owns and error.sqlstate in RETRYABLE_SQLSTATES and attempt <= self.retries:
                    # Equal jitter: at least half the exponential delay.
                    delay = self.backoff * 2 ** (attempt - 1)
                    time.sleep(delay / 2 + random.uniform(0, delay / 2))
                    attempt += 1
                    continue
                translated = translate(error)
                translated.attempts = attempt
                raise translated from error

    def _change(
        self, action: str, table: str, workflow_run_id: int, name: str, params: dict[str, Any]
    ) -> Any:
        """A promote, retry or unpromote: never re-run blindly after a lost connection."""
        owns = self._owns_transaction()
        try:
            return self._scalar(name, params)
        except PgStagingError as error:
            if not (owns and self.conn.broken):
                raise
            lost = error
        ledger = None
        try:
            self._reconnect()
            ledger = self.status(workflow_run_id)
            checked = "the run's ledger was re-read"
        except PgStagingError as error:
            checked = f"could not reconnect to re-read the run's ledger ({error})"
        raise OutcomeUnknown(
            f"connection lost during {action} of {table} run {workflow_run_id}; it may or may"
            f" not have committed: {checked}; {action} again is safe (idempotent) [{lost}]",
            action=action,
            table=table,
            workflow_run_id=workflow_run_id,
            ledger=ledger,
        ) from lost

    def _reconnect(self) -> None:
        """A new connection with the same conninfo, after a few bounded tries."""
        if self._conninfo is None:
            raise ConnectionFailed("this client was not made by connect(): no conninfo to reuse")
        last: PgStagingError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                conn = psycopg.connect(self._conninfo, **self._connect_kwargs)
            except psycopg.Error as error:
                last = translate(error)
                continue
            self.conn.close()
            self.conn = conn
            return
        assert last is not None
        raise last


def _dumps(document: Any) -> str:
    # NaN and Infinity are not JSON; PostgreSQL's jsonb would refuse them anyway.
    return json.dumps(document, ensure_ascii=False, allow_nan=False)
