"""Runs (issue 11, section 3 without gates): start, register, end, fail;
who may, with real logins, by SQL and by the CLI."""

from __future__ import annotations

import json

import psycopg
import pytest
from pgstaging import install
from pgstaging.errors import DatabaseError, PermissionDenied, UnknownRun
from support import assert_one_line_error, fetch_all, fetch_one, run_cli


def _grant_start(db, login: str, actor: str = "run_starter") -> None:
    """What ACCESS's allow_actor(actor, NULL, 'start') records, written as the owner."""
    with db.connect(autocommit=True) as conn:
        (actor_id,) = conn.execute(
            "INSERT INTO actors (actor_name) VALUES (%s) RETURNING actor_id", (actor,)
        ).fetchone()
        conn.execute(
            "INSERT INTO pgstaging.actor_logins (actor_id, login) VALUES (%s, %s)",
            (actor_id, login),
        )
        conn.execute(
            "INSERT INTO pgstaging.actor_rights (actor_id, table_name, right_name)"
            " VALUES (%s, NULL, 'start')",
            (actor_id,),
        )


def _run(db, run_id: int) -> tuple:
    return fetch_one(
        db.admin_url,
        "SELECT workflow_id, status, started_by, ended_by, ended_at IS NOT NULL"
        " FROM pgstaging.runs WHERE workflow_run_id = %s",
        (run_id,),
    )


def test_cli_run_start_and_end(db):
    done = run_cli("run", "start", "--workflow", "3001", url=db.owner_url)
    assert done.returncode == 0, done.stderr
    started = json.loads(done.stdout)
    assert list(started) == ["workflow_run_id"]
    run_id = started["workflow_run_id"]
    assert _run(db, run_id) == (3001, "running", "pgstaging_owner", None, False)
    assert fetch_one(
        db.admin_url, "SELECT count(*) FROM workflow_runs WHERE workflow_run_id = %s", (run_id,)
    ) == (1,)

    done = run_cli(
        "run", "end", str(run_id), "--status", "succeeded", url=db.url("validator_login")
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "succeeded"
    assert _run(db, run_id) == (3001, "succeeded", "pgstaging_owner", "validator_login", True)

    # The same status again: nothing changes; another status: refused (55000).
    again = run_cli("run", "end", str(run_id), "--status", "succeeded", url=db.owner_url)
    assert again.returncode == 0, again.stderr
    changed = run_cli("run", "end", str(run_id), "--status", "failed", url=db.owner_url)
    assert_one_line_error(changed, 6, "55000", "already ended as succeeded")
    assert _run(db, run_id)[1] == "succeeded"

    bad = run_cli("run", "end", str(run_id), "--status", "done", url=db.owner_url)
    assert bad.returncode == 2
    unknown = run_cli("run", "end", "999999", "--status", "failed", url=db.owner_url)
    assert_one_line_error(unknown, 4, "unknown workflow run")


@pytest.mark.parametrize("login", ["script_login", "reader_login", "nobody_login"])
def test_cli_run_start_is_refused_without_the_right(db, login):
    done = run_cli("run", "start", url=db.url(login))
    assert_one_line_error(done, 5, "permission denied")
    assert fetch_one(db.admin_url, "SELECT count(*) FROM pgstaging.runs") == (0,)


def test_each_refusal_is_42501(db, owner):
    engine_run = owner.start_run()
    for login in ("script_login", "reader_login", "nobody_login"):
        with db.client(login) as client:
            for call in (
                lambda c: c.start_run(),
                lambda c: c.start_run(7),
                lambda c: c.register_run(engine_run, 7),
                lambda c: c.end_run(engine_run, "failed"),
            ):
                with pytest.raises(PermissionDenied) as caught:
                    call(client)
                assert caught.value.__cause__.sqlstate == "42501", login
    # The script login's refusal says what is missing and how to get it.
    with db.connect("script_login") as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute("SELECT pgstaging.start_run()")
    assert caught.value.sqlstate == "42501"
    assert "start right" in caught.value.diag.message_detail
    assert "allow_actor" in caught.value.diag.message_hint
    # mark_run_failed is the owner's (gates): not even validators.
    with db.connect("validator_login") as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute("SELECT pgstaging.mark_run_failed(%s, '{}')", (engine_run,))
    assert caught.value.sqlstate == "42501"
    assert _run(db, engine_run)[1] == "running"


def test_an_actor_with_start_may_start_and_end_runs(db):
    _grant_start(db, "script_login")
    with db.client("script_login") as script:
        run_id = script.start_run(5)
        assert script.end_run(run_id, "failed")["status"] == "failed"
    assert _run(db, run_id) == (5, "failed", "script_login", "script_login", True)
    # Only its own login: another script login of the group is still refused.
    with db.client("script_login2") as other, pytest.raises(PermissionDenied):
        other.start_run()


def test_validators_start_runs(validator, db):
    run_id = validator.start_run()
    assert _run(db, run_id) == (None, "running", "validator_login", None, False)


def test_mark_run_failed_upserts_and_end_run_then_refuses(db, owner):
    with db.connect(autocommit=True) as conn:
        (run_id,) = conn.execute(
            "INSERT INTO workflow_runs DEFAULT VALUES RETURNING workflow_run_id"
        ).fetchone()
        conn.execute(
            "SELECT pgstaging.mark_run_failed(%s, %s)",
            (run_id, json.dumps({"gate": {"rule": "max_failure_rate"}})),
        )
    assert fetch_one(
        db.admin_url,
        "SELECT status, failure_reason, started_by FROM pgstaging.runs WHERE workflow_run_id = %s",
        (run_id,),
    ) == ("failed", {"gate": {"rule": "max_failure_rate"}}, None)
    assert owner.end_run(run_id, "failed")["status"] == "failed"
    with pytest.raises(DatabaseError) as caught:
        owner.end_run(run_id, "succeeded")
    assert caught.value.__cause__.sqlstate == "55000"


def test_an_engine_owned_workflow_runs_is_never_written(empty_db):
    """The engine made workflow_runs (other columns): start_run refuses, registering works."""
    with psycopg.connect(empty_db.url(), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE workflow_runs (workflow_run_id integer PRIMARY KEY,"
            " workflow_id integer, state text)"
        )
        conn.execute("INSERT INTO workflow_runs VALUES (500, 3001, 'running')")
    install(empty_db.url())
    assert fetch_all(
        empty_db.admin_url, "SELECT table_name, created_by_pgstaging FROM pgstaging.engine_tables"
    ) == [("workflow_runs", False)]

    with psycopg.connect(empty_db.url()) as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute("SELECT pgstaging.start_run(3001)")
    assert caught.value.sqlstate == "55000"
    assert "p_workflow_run_id" in caught.value.diag.message_hint
    done = run_cli("run", "start", url=empty_db.url())
    assert_one_line_error(done, 6, "55000", "workflow engine")

    done = run_cli("run", "register", "500", "--workflow", "3001", url=empty_db.url())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"workflow_run_id": 500}
    from pgstaging import StagingClient

    with StagingClient.connect(empty_db.url()) as owner:
        assert owner.register_run(500, 3001) == 500  # idempotent
        with pytest.raises(UnknownRun):
            owner.register_run(501, 3001)
        assert owner.end_run(500, "succeeded")["status"] == "succeeded"
    # The engine's table is as the engine left it.
    assert fetch_all(empty_db.admin_url, "SELECT * FROM workflow_runs") == [(500, 3001, "running")]
    # A re-install keeps the record, whatever the table looks like then.
    install(empty_db.url(), force=True)
    assert fetch_all(
        empty_db.admin_url, "SELECT created_by_pgstaging FROM pgstaging.engine_tables"
    ) == [(False,)]


def test_an_upgrade_from_0_1_0_claims_the_workflow_runs_it_made(db, owner):
    """0.1.0 kept no record: a table with exactly pgstaging's columns was pgstaging's."""
    with db.connect(autocommit=True) as conn:
        conn.execute("DELETE FROM pgstaging.engine_tables")
    install(db.owner_url, force=True)
    assert fetch_all(
        db.admin_url, "SELECT table_name, created_by_pgstaging FROM pgstaging.engine_tables"
    ) == [("workflow_runs", True)]
    assert owner.start_run() > 0
