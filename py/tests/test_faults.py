"""Faults during a large promotion: nothing half-done, and a re-run ends where a clean run ends.

Each test stages the same 50,000 postings (valid, duplicate, blank, broken
and non-object documents), breaks the promotion while it runs, and then
checks:

- nothing is half-promoted: no production row, every row of the run still
  pending with no verdict, no promotion log row;
- promoting again gives exactly the state of a control database that never
  faulted (production rows and every staged row's verdict, compared by
  content and by staging order, not by generated ids or timestamps).

The faults: ``pg_terminate_backend`` of the promoting backend; an immediate
server stop (``pg_ctl stop -m immediate``) and restart, on a throwaway
cluster of the test's own; ``statement_timeout``; ``lock_timeout`` while
another session holds a lock the promotion needs half-way through.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from pgstaging import OutcomeUnknown, StagingClient, install, sqlfiles
from pgstaging.devcluster import OWNER, Cluster, _as_server_user, _bindir, temp_cluster
from pgstaging.errors import DatabaseError
from psycopg import sql
from psycopg.conninfo import make_conninfo
from reliability import InThread, running_pid
from support import fetch_all

COUNT = 50_000
DROP = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
KEYS = 30_000


def document(n: int) -> Any:
    """The n-th staged document: the same list for every database."""
    key = f"F-{n % KEYS}"
    if n % 997 == 0:
        return [key]  # not an object
    if n % 10 == 3:
        return {"job_id": key}  # no title
    if n % 101 == 7:
        return {"job_id": key, "title": "x" * 501}  # too long
    if n % 7 == 0:
        key = f"  {key}\u3000"  # the same key once trimmed
    if n % 13 == 0:
        return {"job_id": n % KEYS, "title": f"numbered {n}"}
    return {"job_id": key, "title": f"Title {n}", "location": ["Berlin", "Paris", None][n % 3]}


# -- databases ----------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A database to stage into and promote: its URL for any login, and its superuser URL."""

    server_url: str  # superuser, any database of the cluster
    name: str

    def url(self, user: str = OWNER) -> str:
        return make_conninfo(self.server_url, user=user, dbname=self.name)

    @property
    def admin_url(self) -> str:
        return make_conninfo(self.server_url, dbname=self.name)


def stage_run(target: Target) -> int:
    """Stage the documents as the script login; return the run."""
    with StagingClient.connect(target.url()) as owner:
        run_id = owner.start_run()
        actor_id = owner.register_actor("fault_fetcher")
    with StagingClient.connect(target.url("script_login")) as script:
        assert script.stage_copy("postings", run_id, actor_id, map(document, range(COUNT))) == COUNT
    return run_id


# Verdicts by staging order; production by natural key, pointing at staging
# order; the log without ids and times.
SNAPSHOT = {
    "verdicts": """
        SELECT row_number() OVER (ORDER BY s.staging_id), s.raw_data, s.outcome, s.validated,
               s.promoted, s.validation_errors, s.rule_version, s.validated_by,
               s.validated_at IS NOT NULL, s.promoted_at IS NOT NULL, s.rolled_back_at,
               p.external_job_id
        FROM postings_staging AS s LEFT JOIN postings AS p ON p.posting_id = s.promoted_to_id
        ORDER BY s.staging_id""",
    "production": """
        WITH s AS (SELECT staging_id, row_number() OVER (ORDER BY staging_id) AS ord
                   FROM postings_staging)
        SELECT p.external_job_id, p.source_website, p.job_title, p.job_description,
               p.company_name, p.location, s.ord, p.created_by_interaction_id,
               p.updated_by_staging_id, p.updated_at, p.enabled, p.invalidated
        FROM postings AS p LEFT JOIN s ON s.staging_id = p.created_by_staging_id
        ORDER BY p.external_job_id""",
    "log": """
        SELECT table_name, action, called_by, rule_version, promoted_count, duplicate_count,
               updated_count, failed_count, rolled_back_count, reason
        FROM pgstaging.promotion_log ORDER BY log_id""",
    "side_tables": """
        SELECT (SELECT count(*) FROM pgstaging.update_preimages),
               (SELECT count(*) FROM pgstaging.superseded_verdicts)""",
}


def snapshot(url: str) -> dict[str, list[tuple]]:
    return {name: fetch_all(url, query) for name, query in SNAPSHOT.items()}


def assert_untouched(target: Target, run_id: int) -> None:
    """Nothing half-promoted: no production row, every row pending, no log row."""
    (counts,) = fetch_all(
        target.admin_url,
        """SELECT (SELECT count(*) FROM postings),
                  (SELECT count(*) FROM postings_staging WHERE workflow_run_id = %(run)s),
                  (SELECT count(*) FROM postings_staging
                   WHERE workflow_run_id = %(run)s AND outcome IS NULL AND NOT validated
                     AND NOT promoted AND validation_errors IS NULL AND validated_at IS NULL
                     AND validated_by IS NULL AND rule_version IS NULL
                     AND promoted_to_id IS NULL AND promoted_at IS NULL),
                  (SELECT count(*) FROM pgstaging.promotion_log),
                  (SELECT count(*) FROM pgstaging.superseded_verdicts)""",
        {"run": run_id},
    )
    assert counts == (0, COUNT, COUNT, 0, 0)


@pytest.fixture(scope="module")
def fresh_databases(admin_server_url: str, template_db: str) -> Iterator[Callable[[str], Target]]:
    """Make databases from the template on the shared test cluster; drop them after the module."""
    made: list[str] = []

    def make(label: str) -> Target:
        name = f"pgstaging_fault_{label}_{os.getpid()}"
        with psycopg.connect(admin_server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(template_db), sql.Identifier(OWNER)
                )
            )
        made.append(name)
        return Target(admin_server_url, name)

    yield make
    with psycopg.connect(admin_server_url, autocommit=True) as conn:
        for name in made:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@dataclass(frozen=True)
class Control:
    snapshot: dict[str, list[tuple]]
    seconds: float  # how long a clean promotion took


@pytest.fixture(scope="module")
def control(fresh_databases) -> Control:
    """The same run, promoted once without any fault."""
    target = fresh_databases("control")
    run_id = stage_run(target)
    with StagingClient.connect(target.url("validator_login")) as validator:
        started = time.monotonic()
        result = validator.promote("postings", run_id)
        seconds = time.monotonic() - started
        validator.promote("postings", run_id)  # the idempotent second call, as after a fault
    assert result.promoted_count + result.duplicate_count + result.failed_count == COUNT
    assert result.failed_count > 0 and result.duplicate_count > 0
    assert result.promoted_count == len(fetch_all(target.admin_url, "SELECT 1 FROM postings"))
    return Control(snapshot(target.admin_url), seconds)


def promote_again_and_compare(target: Target, run_id: int, control: Control) -> None:
    with StagingClient.connect(target.url("validator_login")) as validator:
        result = validator.promote("postings", run_id)
        assert result.promoted_count + result.duplicate_count + result.failed_count == COUNT
        again = validator.promote("postings", run_id)
        assert (again.promoted_count, again.duplicate_count, again.failed_count) == (0, 0, 0)
    after = snapshot(target.admin_url)
    for name in SNAPSHOT:
        assert after[name] == control.snapshot[name], f"{name} differs from the control run"


# -- helpers for a promotion running in another thread ------------------------


def promoting_pid(target: Target) -> int:
    """The validator's backend once pg_stat_activity shows it running the promotion."""
    return running_pid(target.admin_url, target.name, "validator_login", "pgstaging.promote(")


def hold_lock_on_a_failing_row(target: Target, run_id: int) -> psycopg.Connection:
    """FOR UPDATE on the run's first staged row, ``document(0)``, which fails.

    So the promotion writes production and marks its promoted rows (the
    first statement), then its verdict UPDATE of the other rows must wait.
    """
    conn = psycopg.connect(target.url())
    conn.execute(
        "SELECT 1 FROM postings_staging WHERE staging_id ="
        " (SELECT min(staging_id) FROM postings_staging WHERE workflow_run_id = %s) FOR UPDATE",
        (run_id,),
    )
    return conn


def waiting_for_lock(target: Target, pid: int) -> bool:
    """Whether ``pid`` is waiting for a lock (here: the held row's)."""
    return fetch_all(
        target.admin_url,
        "SELECT wait_event_type IS NOT DISTINCT FROM 'Lock' FROM pg_stat_activity WHERE pid = %s",
        (pid,),
    )[0][0]


# -- the faults -----------------------------------------------------------------


def test_terminate_backend_during_promotion(fresh_databases, control):
    target = fresh_databases("terminate")
    run_id = stage_run(target)
    validator = StagingClient.connect(target.url("validator_login"))
    call = InThread(lambda: validator.promote("postings", run_id))
    pid = promoting_pid(target)
    time.sleep(min(0.5, control.seconds / 4))  # well inside the promotion
    (terminated,) = fetch_all(target.admin_url, "SELECT pg_terminate_backend(%s)", (pid,))[0]
    assert terminated is True

    error = call.error_after()
    assert isinstance(error, OutcomeUnknown)
    (postings,) = [r for r in error.ledger if r.table_name == "postings"]
    assert (postings.staged, postings.pending) == (COUNT, COUNT)
    validator.close()

    assert_untouched(target, run_id)
    promote_again_and_compare(target, run_id, control)


def test_statement_timeout_during_promotion(fresh_databases, control):
    target = fresh_databases("statement_timeout")
    run_id = stage_run(target)
    # A third of a clean run's time: the promotion is cut off while it works.
    # The row lock is a backstop: even on a much faster machine the call
    # cannot finish before the timeout, it would wait at its verdict UPDATE.
    timeout_ms = max(100, int(control.seconds * 1000 / 3))
    holder = hold_lock_on_a_failing_row(target, run_id)
    validator = StagingClient.connect(
        target.url("validator_login"), options=f"-c statement_timeout={timeout_ms}", retries=0
    )
    started = time.monotonic()
    with pytest.raises(DatabaseError, match="57014"):
        validator.promote("postings", run_id)
    assert time.monotonic() - started >= timeout_ms / 1000
    validator.close()
    holder.rollback()
    holder.close()

    assert_untouched(target, run_id)
    promote_again_and_compare(target, run_id, control)


def test_lock_timeout_half_way_through_promotion(fresh_databases, control):
    target = fresh_databases("lock_timeout")
    run_id = stage_run(target)
    holder = hold_lock_on_a_failing_row(target, run_id)
    # Long enough to be seen waiting; the INSERT into postings is done by then.
    validator = StagingClient.connect(
        target.url("validator_login"), options="-c lock_timeout=1500ms", retries=0
    )
    call = InThread(lambda: validator.promote("postings", run_id))
    pid = promoting_pid(target)
    deadline = time.monotonic() + 30
    while not waiting_for_lock(target, pid):
        assert call.thread.is_alive() and time.monotonic() < deadline, "never waited on the lock"
        time.sleep(0.01)
    # Waiting at the verdict step: the production rows are written (the
    # table's file grew) but nobody else can see them.
    (size, visible) = fetch_all(
        target.admin_url, "SELECT pg_relation_size('postings'), (SELECT count(*) FROM postings)"
    )[0]
    assert size > 0 and visible == 0

    error = call.error_after()
    assert isinstance(error, DatabaseError) and "55P03" in str(error)
    validator.close()
    holder.rollback()
    holder.close()

    assert_untouched(target, run_id)
    promote_again_and_compare(target, run_id, control)


# -- immediate stop: a cluster of the test's own ---------------------------------


def pg_ctl(cluster: Cluster, *args: str) -> None:
    subprocess.run(
        _as_server_user([str(_bindir() / "pg_ctl"), "-D", str(cluster.datadir), *args]),
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_immediate_stop_during_promotion(control):
    with temp_cluster() as cluster:
        server_url = cluster.url("postgres", "postgres")
        target = Target(server_url, "pgstaging")
        install(target.url())
        with psycopg.connect(target.admin_url, autocommit=True) as conn:
            conn.execute(sqlfiles.query("dev/create_test_logins.sql"))
        run_id = stage_run(target)

        validator = StagingClient.connect(target.url("validator_login"), retries=1)
        call = InThread(lambda: validator.promote("postings", run_id))
        promoting_pid(target)
        time.sleep(min(0.5, control.seconds / 4))
        pg_ctl(cluster, "-m", "immediate", "stop")

        error = call.error_after()
        # The server is gone: the client could not re-read the ledger.
        assert isinstance(error, OutcomeUnknown) and error.ledger is None
        validator.close()

        # Restart with the options it was started with (postmaster.opts).
        pg_ctl(cluster, "-l", str(cluster.datadir.parent / "server.log"), "-w", "restart")
        assert_untouched(target, run_id)
        promote_again_and_compare(target, run_id, control)
