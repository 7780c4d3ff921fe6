"""The client's retries and its answer to a lost connection, against a real server.

A lock timeout (55P03) is provoked by a session that holds a conflicting lock
on ``postings`` while the validator's own session has ``lock_timeout=200ms``
(a connection option: roles are cluster-wide, so no ALTER ROLE). The
validator's lock waits are watched in ``pg_stat_activity``, independently of
the client, so the number of attempts is observed, not taken on trust. A
lost connection is provoked with ``pg_terminate_backend`` while a promotion
is running.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest
from pgstaging import OutcomeUnknown, PgStagingError, StagingClient
from pgstaging.errors import DatabaseError
from reliability import InThread, running_pid
from reliability import terminate as kill
from support import fetch_one, ledger

LOCK_TIMEOUT = "-c lock_timeout=200ms"
DOCUMENTS = [
    {"job_id": "R-1", "title": "Engineer"},
    {"job_id": "R-2", "title": "Analyst"},
    {"job_id": "R-1", "title": "Engineer again"},
    {"job_id": "R-3"},
]


class LockWaits:
    """Polls pg_stat_activity: each distinct transaction of ``user`` seen waiting on a lock."""

    def __init__(self, admin_url: str, dbname: str, user: str):
        self.admin_url, self.dbname, self.user = admin_url, dbname, user
        self.seen: set[tuple[int, Any]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    """SELECT pid, xact_start FROM pg_stat_activity
                       WHERE datname = %s AND usename = %s AND wait_event_type = 'Lock'""",
                    (self.dbname, self.user),
                ).fetchall()
                self.seen.update(rows)
                time.sleep(0.01)

    def wait_for(self, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.seen) < count:
            assert time.monotonic() < deadline, f"saw {len(self.seen)} lock waits, not {count}"
            time.sleep(0.01)

    def __enter__(self) -> LockWaits:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def hold_lock(db, table: str = "postings", mode: str = "EXCLUSIVE") -> psycopg.Connection:
    """An owner session inside a transaction that holds ``mode`` on ``table``."""
    conn = db.connect()
    conn.execute(f"LOCK TABLE {table} IN {mode} MODE")
    return conn


def log_rows(db, run_id: int) -> int:
    return fetch_one(
        db.admin_url,
        "SELECT count(*) FROM pgstaging.promotion_log WHERE workflow_run_id = %s",
        (run_id,),
    )[0]


@pytest.fixture
def staged_run(db, owner, script, actor_id) -> int:
    run_id = owner.start_run()
    script.stage("postings", run_id, actor_id, DOCUMENTS)
    return run_id


def timed_validator(db, **kwargs) -> StagingClient:
    return StagingClient.connect(db.url("validator_login"), options=LOCK_TIMEOUT, **kwargs)


def test_lock_timeout_is_retried_and_succeeds_when_the_lock_is_released(db, staged_run):
    holder = hold_lock(db)
    with (
        timed_validator(db) as validator,
        LockWaits(db.admin_url, db.name, "validator_login") as waits,
    ):
        call = InThread(lambda: validator.promote("postings", staged_run))
        # The first attempt timed out (55P03) and a second one is now waiting.
        waits.wait_for(2)
        holder.commit()
        result = call.result()

    holder.close()
    assert (result.promoted_count, result.duplicate_count, result.failed_count) == (2, 1, 1)
    assert 2 <= len(waits.seen) <= 4
    assert len({pid for pid, _ in waits.seen}) == 1  # one session, several transactions
    assert ledger(db.admin_url, staged_run) == {
        "staged": 4,
        "pending": 0,
        "promoted": 2,
        "duplicate": 1,
        "failed": 1,
    }
    assert log_rows(db, staged_run) == 1  # the failed attempts left no trace


def test_lock_timeout_surfaces_after_the_bounded_attempts(db, staged_run):
    holder = hold_lock(db)
    with (
        timed_validator(db, retries=3) as validator,
        LockWaits(db.admin_url, db.name, "validator_login") as waits,
    ):
        started = time.monotonic()
        with pytest.raises(DatabaseError) as caught:
            validator.promote("postings", staged_run)
        elapsed = time.monotonic() - started
        # The client is still usable, and nothing stuck to its connection.
        assert validator.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE

    error = caught.value
    assert isinstance(error, PgStagingError) and error.exit_code == 6
    assert "55P03" in str(error) and "lock timeout" in str(error)
    assert isinstance(error.__cause__, psycopg.errors.LockNotAvailable)
    assert error.attempts == 4  # the first try and three retries
    # Seen independently: several transactions waited, never more than four
    # (the poll may miss one under load; the elapsed time below counts all four).
    assert 2 <= len(waits.seen) <= 4
    assert elapsed >= 4 * 0.2
    assert elapsed < 4 * 0.2 + 3.0  # bounded: backoff 0.05 + 0.1 + 0.2 s at most, plus slack

    holder.rollback()
    holder.close()
    assert ledger(db.admin_url, staged_run)["pending"] == 4
    assert log_rows(db, staged_run) == 0
    with db.client("validator_login") as validator:
        assert validator.promote("postings", staged_run).promoted_count == 2


def test_no_retry_inside_a_callers_transaction(db, staged_run):
    holder = hold_lock(db)
    with (
        timed_validator(db, retries=3) as validator,
        LockWaits(db.admin_url, db.name, "validator_login") as waits,
    ):
        with pytest.raises(DatabaseError) as caught, validator.conn.transaction():
            validator.promote("postings", staged_run)
        assert validator.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    holder.rollback()
    holder.close()

    assert "55P03" in str(caught.value)
    assert caught.value.attempts == 1
    assert len(waits.seen) == 1
    assert ledger(db.admin_url, staged_run)["pending"] == 4


def test_retries_zero_means_one_attempt(db, staged_run):
    holder = hold_lock(db)
    with timed_validator(db, retries=0) as validator, pytest.raises(DatabaseError) as caught:
        validator.promote("postings", staged_run)
    holder.rollback()
    holder.close()
    assert caught.value.attempts == 1 and "55P03" in str(caught.value)


def wait_until_running(db, user: str, fragment: str) -> int:
    return running_pid(db.admin_url, db.name, user, fragment)


def terminate(db, pid: int) -> None:
    kill(db.admin_url, pid)


def test_lost_connection_while_waiting_raises_outcome_unknown_with_the_ledger(db, staged_run):
    holder = hold_lock(db)  # the promotion waits, so it is surely running when killed
    validator = StagingClient.connect(db.url("validator_login"))
    old_conn = validator.conn
    call = InThread(lambda: validator.promote("postings", staged_run))
    terminate(db, wait_until_running(db, "validator_login", "pgstaging.promote("))
    with pytest.raises(OutcomeUnknown) as caught:
        call.result()
    holder.rollback()
    holder.close()

    error = caught.value
    assert error.exit_code == 8 and error.attempts == 1
    assert (error.action, error.table, error.workflow_run_id) == ("promote", "postings", staged_run)
    postings = [row for row in error.ledger if row.table_name == "postings"]
    assert len(postings) == 1
    got = postings[0]
    assert (got.staged, got.pending, got.promoted, got.duplicate, got.failed) == (4, 4, 0, 0, 0)
    assert ledger(db.admin_url, staged_run)["pending"] == 4
    assert log_rows(db, staged_run) == 0
    assert "may or may not have committed" in str(error)
    # It reconnected: the old connection is closed, the new one works, and
    # calling again (idempotent) finishes the job.
    assert old_conn.closed and validator.conn is not old_conn and not validator.conn.closed
    assert validator.conn.info.user == "validator_login"
    assert validator.promote("postings", staged_run).promoted_count == 2
    assert validator.promote("postings", staged_run).promoted_count == 0
    validator.close()


def test_lost_connection_in_the_middle_of_a_large_promotion(db, owner, script, actor_id):
    run_id = owner.start_run()
    count = 30_000
    script.stage_copy(
        "postings",
        run_id,
        actor_id,
        ({"job_id": f"BIG-{n % 20_000}", "title": f"t{n}"} for n in range(count)),
    )
    validator = StagingClient.connect(db.url("validator_login"))
    call = InThread(lambda: validator.promote("postings", run_id))
    pid = wait_until_running(db, "validator_login", "pgstaging.promote(")
    time.sleep(0.05)
    terminate(db, pid)
    with pytest.raises(OutcomeUnknown) as caught:
        call.result()

    error = caught.value
    assert error.action == "promote"
    (postings,) = [row for row in error.ledger if row.table_name == "postings"]
    # Whatever the kill interrupted, the ledger the client re-read is the
    # database's, and the promotion was all or nothing.
    assert {
        k: getattr(postings, k) for k in ("staged", "pending", "promoted", "duplicate", "failed")
    } == ledger(db.admin_url, run_id)
    # Killed 50 ms into a promotion that takes seconds: nothing was kept.
    assert (postings.staged, postings.pending) == (count, count)
    assert log_rows(db, run_id) == 0
    assert validator.promote("postings", run_id).promoted_count == 20_000
    assert ledger(db.admin_url, run_id) == {
        "staged": count,
        "pending": 0,
        "promoted": 20_000,
        "duplicate": 10_000,
        "failed": 0,
    }
    validator.close()


def test_lost_connection_without_conninfo_still_raises_outcome_unknown(db, staged_run):
    holder = hold_lock(db)
    conn = psycopg.connect(db.url("validator_login"))
    validator = StagingClient(conn)  # not made by connect(): nothing to reconnect with
    call = InThread(lambda: validator.unpromote("postings", staged_run, reason="test"))
    terminate(db, wait_until_running(db, "validator_login", "pgstaging.unpromote("))
    with pytest.raises(OutcomeUnknown) as caught:
        call.result()
    holder.rollback()
    holder.close()

    assert caught.value.ledger is None and caught.value.action == "unpromote"
    assert "could not reconnect" in str(caught.value)


def test_lost_connection_inside_a_callers_transaction_is_not_outcome_unknown(db, staged_run):
    # The caller's transaction is gone with the connection: nothing committed,
    # so the outcome is known and the plain error is raised.
    holder = hold_lock(db)
    validator = StagingClient.connect(db.url("validator_login"))

    def in_transaction() -> None:
        with validator.conn.transaction():
            validator.promote("postings", staged_run)

    call = InThread(in_transaction)
    terminate(db, wait_until_running(db, "validator_login", "pgstaging.promote("))
    with pytest.raises(PgStagingError) as caught:
        call.result()
    holder.rollback()
    holder.close()

    assert not isinstance(caught.value, OutcomeUnknown)
    assert isinstance(caught.value, DatabaseError) and "57P01" in str(caught.value)
    assert ledger(db.admin_url, staged_run)["pending"] == 4
    validator.close()
