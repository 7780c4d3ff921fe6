"""Alerts that can't be missed (issue 11, section 4): every alert is a row of
pgstaging.alerts; `watch --since` catches up on what nobody heard, `--poll`
follows without LISTEN, a LISTEN dropped by a server restart is made again
without losing alerts. Batch mode alerts once per run; alerts and the
promotion log carry the interaction id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import psycopg
from pgstaging import StagingClient, install, sqlfiles
from pgstaging.devcluster import temp_cluster
from support import assert_one_line_error, fetch_all, run_cli
from test_faults import pg_ctl

BAD = {"job_id": "BAD"}  # no title: fails
EXAMPLE_SPEC = Path(__file__).resolve().parents[2] / "examples" / "specs" / "companies.sql"


def _stage(script, run_id, actor_id, documents):
    return script.stage("postings", run_id, actor_id, documents)


def _watch_lines(done) -> list[dict]:
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def _raise_alert(url: str, payload: dict) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT pgstaging.raise_alert(%s)", (json.dumps(payload),)).fetchone()[
            0
        ]


def test_an_alert_nobody_heard_is_kept_and_watch_since_prints_it(
    db, script, validator, run_id, actor_id
):
    _stage(script, run_id, actor_id, [BAD, {"job_id": "OK-1", "title": "t"}])
    validator.promote("postings", run_id, interaction_id=7001)  # nobody listens

    done = run_cli(
        "watch", "--since", "0", "--count", "1", "--timeout", "10", url=db.url("reader_login")
    )
    (alert,) = _watch_lines(done)
    (alert_id, sent_at) = fetch_all(db.admin_url, "SELECT alert_id, sent_at FROM pgstaging.alerts")[
        0
    ]
    assert alert["alert_id"] == alert_id
    assert datetime.fromisoformat(alert["sent_at"]) == sent_at  # PostgreSQL drops trailing zeros
    assert (alert["table"], alert["workflow_run_id"], alert["action"]) == (
        "postings",
        run_id,
        "promote",
    )
    counts = ("promoted_count", "duplicate_count", "updated_count", "failed_count")
    assert tuple(alert[k] for k in counts) == (1, 0, 0, 1)
    assert alert["interaction_id"] == 7001
    assert fetch_all(
        db.admin_url,
        "SELECT interaction_id FROM pgstaging.promotion_log WHERE workflow_run_id = %s",
        (run_id,),
    ) == [(7001,)]

    # --since the last one seen: nothing old again, within the timeout.
    later = run_cli("watch", "--since", str(alert_id), "--timeout", "1", url=db.url("reader_login"))
    assert _watch_lines(later) == []


def test_watch_poll_follows_without_listen(db, script, validator, run_id, actor_id):
    _stage(script, run_id, actor_id, [BAD])
    env = {k: v for k, v in os.environ.items() if k != "PGSTAGING_ADMIN_URL"}
    env["DATABASE_URL"] = db.url("reader_login")
    command = ["watch", "--poll", "0.2", "--count", "1", "--timeout", "30"]
    watcher = subprocess.Popen(
        [sys.executable, "-m", "pgstaging", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert "polling every 0.2 s" in watcher.stderr.readline()
        time.sleep(0.5)
        validator.promote("postings", run_id)
        out, err = watcher.communicate(timeout=30)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    (alert,) = [json.loads(line) for line in out.splitlines()]
    assert (alert["workflow_run_id"], alert["failed_count"]) == (run_id, 1)
    # The poller never listened (PgBouncer's transaction pooling cannot).
    assert fetch_all(
        db.admin_url,
        "SELECT count(*) FROM pg_stat_activity WHERE usename = 'reader_login'"
        " AND query ILIKE 'LISTEN%%'",
    ) == [(0,)]
    assert_one_line_error(run_cli("watch", "--poll", "0", url=db.url("reader_login")), 7, "--poll")


def test_alerts_committed_out_of_order_are_all_seen(db):
    """Identity ids are taken at INSERT: a lower id may commit after a higher one."""
    with StagingClient.connect(db.url("reader_login")) as reader:
        alerts = reader.alerts(timeout=20, poll=0.1)
        first = threading.Event()
        got: list[dict] = []

        def collect() -> None:
            for alert in alerts:
                got.append(alert)
                first.set()
                if len(got) == 2:
                    return

        slow = psycopg.connect(db.owner_url)
        low = slow.execute('SELECT pgstaging.raise_alert(\'{"n": "low"}\')').fetchone()[0]
        thread = threading.Thread(target=collect, daemon=True)
        thread.start()
        time.sleep(0.3)  # the watcher has started after the low id was taken
        high = _raise_alert(db.owner_url, {"n": "high"})
        assert first.wait(10)
        slow.commit()
        slow.close()
        thread.join(20)
    assert high > low
    assert [(a["alert_id"], a["n"]) for a in got] == [(high, "high"), (low, "low")]


def test_batch_mode_alerts_and_logs_once_per_run(db, owner, script, validator, actor_id):
    runs = [owner.start_run() for _ in range(3)]
    _stage(script, runs[0], actor_id, [BAD, {"job_id": "B-1", "title": "t"}])
    _stage(script, runs[1], actor_id, [{"job_id": "B-2", "title": "t"}])  # clean
    _stage(script, runs[2], actor_id, [BAD, BAD, {"job_id": "B-1", "title": "t"}])
    result = validator.promote_batch("postings", 100)
    assert (result["promoted_count"], result["failed_count"]) == (2, 3)

    alerts = fetch_all(
        db.admin_url,
        "SELECT payload FROM pgstaging.alerts WHERE payload ->> 'action' = 'batch'"
        " ORDER BY alert_id",
    )
    counts = ("promoted_count", "duplicate_count", "updated_count", "failed_count")
    assert [(a["workflow_run_id"], *(a[k] for k in counts)) for (a,) in alerts] == [
        (runs[0], 1, 0, 0, 1),
        (runs[2], 0, 1, 0, 2),
    ]
    assert fetch_all(
        db.admin_url,
        "SELECT workflow_run_id, action, promoted_count, duplicate_count, failed_count"
        " FROM pgstaging.promotion_log ORDER BY workflow_run_id",
    ) == [
        (runs[0], "batch", 1, 0, 1),
        (runs[1], "batch", 1, 0, 0),
        (runs[2], "batch", 0, 1, 2),
    ]


def test_unpromote_alert_names_the_cascade_and_the_interaction(
    db, owner, script, validator, actor_id
):
    postings_run, skills_run = owner.start_run(), owner.start_run()
    _stage(script, postings_run, actor_id, [{"job_id": "C-1", "title": "t"}])
    validator.promote("postings", postings_run)
    script.stage("job_skills", skills_run, actor_id, [{"job_id": "C-1", "skill": "SQL"}])
    assert validator.promote("job_skills", skills_run).promoted_count == 1

    done = run_cli(
        "unpromote",
        "postings",
        "--run",
        str(postings_run),
        "--cascade",
        "--interaction",
        "9009",
        url=db.url("validator_login"),
    )
    assert done.returncode == 0, done.stderr
    ((alert,),) = fetch_all(
        db.admin_url,
        "SELECT payload FROM pgstaging.alerts WHERE payload ->> 'action' = 'unpromote'",
    )
    assert alert["interaction_id"] == 9009
    assert [(c["table"], c["deleted_count"]) for c in alert["cascaded"]] == [("job_skills", 1)]
    assert fetch_all(
        db.admin_url,
        "SELECT action, interaction_id FROM pgstaging.promotion_log WHERE action = 'unpromote'",
    ) == [("unpromote", 9009)]


def test_retry_and_promote_carry_the_interaction_id_by_sql(db, script, validator, run_id, actor_id):
    _stage(script, run_id, actor_id, [BAD])
    with db.connect("validator_login", autocommit=True) as conn:
        conn.execute("SELECT promote_postings_staging(%s, p_interaction_id => 11)", (run_id,))
        conn.execute("SELECT retry_postings_staging(%s, p_interaction_id => 12)", (run_id,))
        conn.execute("SELECT pgstaging.retry('postings', %s, 13)", (run_id,))
    assert fetch_all(
        db.admin_url,
        "SELECT l.action, l.interaction_id, (a.payload ->> 'interaction_id')::bigint"
        " FROM pgstaging.promotion_log AS l JOIN pgstaging.alerts AS a"
        "   ON (a.payload ->> 'interaction_id')::bigint = l.interaction_id ORDER BY l.log_id",
    ) == [("promote", 11, 11), ("retry", 12, 12), ("retry", 13, 13)]
    done = run_cli(
        "retry",
        "postings",
        "--run",
        str(run_id),
        "--interaction",
        "14",
        url=db.url("validator_login"),
    )
    assert done.returncode == 0, done.stderr
    assert fetch_all(db.admin_url, "SELECT max(interaction_id) FROM pgstaging.promotion_log") == [
        (14,)
    ]


def test_a_server_restart_loses_no_alert():
    """LISTEN dies with the server; the watcher reconnects, catches up, listens again."""
    with temp_cluster() as cluster:
        owner_url = cluster.url()
        install(owner_url)
        with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
            conn.execute(sqlfiles.query("dev/create_test_logins.sql"))
        reader = StagingClient.connect(cluster.url("reader_login"))
        got: list[dict] = []
        arrived = threading.Condition()

        def collect() -> None:
            for alert in reader.alerts(timeout=60):
                with arrived:
                    got.append(alert)
                    arrived.notify_all()
                if len(got) == 3:
                    return

        def wait_for(count: int) -> None:
            with arrived:
                assert arrived.wait_for(lambda: len(got) >= count, timeout=30), got

        thread = threading.Thread(target=collect, daemon=True)
        thread.start()
        time.sleep(0.5)  # listening
        ids = [_raise_alert(owner_url, {"n": 1})]
        wait_for(1)

        # The watcher may not log in again until alert 2 is sent: its
        # reconnects fail meanwhile, and no one hears that NOTIFY.
        with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
            conn.execute("ALTER ROLE reader_login NOLOGIN")
        # Restart with the options it was started with (postmaster.opts).
        pg_ctl(
            cluster, "-m", "fast", "-l", str(cluster.datadir.parent / "server.log"), "-w", "restart"
        )
        with psycopg.connect(owner_url, autocommit=True) as conn:
            ids.append(conn.execute("SELECT pgstaging.raise_alert('{\"n\": 2}')").fetchone()[0])
            listeners = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'reader_login'"
            ).fetchone()[0]
        assert listeners == 0
        with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
            conn.execute("ALTER ROLE reader_login LOGIN")
        wait_for(2)
        # And LISTEN is made again: the next one comes by notification.
        ids.append(_raise_alert(owner_url, {"n": 3}))
        wait_for(3)
        thread.join(10)
        reader.close()
    assert [(a["alert_id"], a["n"]) for a in got] == list(zip(ids, (1, 2, 3), strict=True))


def test_an_upgrade_from_0_1_0_signatures_keeps_grants_and_works(db):
    """0.1.0's entry points had no p_interaction_id; an install replaces them, grants kept."""
    install(db.owner_url, specs=[EXAMPLE_SPEC])  # a table the package's specs do not list
    old_engine = """
        DROP FUNCTION pgstaging.run_promotion(name, integer, text, boolean, bigint[], bigint,
            boolean) CASCADE;
        DROP FUNCTION pgstaging.run_unpromotion(name, integer, text, boolean, bigint) CASCADE;
        CREATE FUNCTION pgstaging.run_promotion(p_table name, p_workflow_run_id integer,
            p_action text, p_dry_run boolean, p_staging_ids bigint[] DEFAULT NULL)
        RETURNS jsonb LANGUAGE plpgsql AS $$BEGIN RETURN '{}'; END$$;
        CREATE FUNCTION pgstaging.run_unpromotion(p_table name, p_workflow_run_id integer,
            p_reason text, p_cascade boolean)
        RETURNS jsonb LANGUAGE plpgsql AS $$BEGIN RETURN '{}'; END$$;
    """
    old_entry_points = """
        CREATE FUNCTION promote_{t}_staging(p_workflow_run_id integer) RETURNS jsonb
            LANGUAGE sql SECURITY DEFINER
            RETURN pgstaging.run_promotion('{t}', p_workflow_run_id, 'promote', false);
        CREATE FUNCTION promote_{t}_staging(p_workflow_run_id integer, p_dry_run boolean)
            RETURNS jsonb LANGUAGE sql SECURITY DEFINER
            RETURN pgstaging.run_promotion('{t}', p_workflow_run_id, 'promote', p_dry_run);
        CREATE FUNCTION retry_{t}_staging(p_workflow_run_id integer) RETURNS jsonb
            LANGUAGE sql SECURITY DEFINER
            RETURN pgstaging.run_promotion('{t}', p_workflow_run_id, 'retry', false);
        CREATE FUNCTION unpromote_{t}_staging(p_workflow_run_id integer,
            p_reason text DEFAULT NULL, p_cascade boolean DEFAULT false) RETURNS jsonb
            LANGUAGE sql SECURITY DEFINER
            RETURN pgstaging.run_unpromotion('{t}', p_workflow_run_id, p_reason, p_cascade);
        REVOKE ALL ON FUNCTION promote_{t}_staging(integer), promote_{t}_staging(integer, boolean),
            retry_{t}_staging(integer), unpromote_{t}_staging(integer, text, boolean) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION promote_{t}_staging(integer) TO nobody_login;
    """
    with db.connect() as conn:
        conn.execute(old_engine)
        for table in ("postings", "companies"):
            conn.execute(old_entry_points.replace("{t}", table))
    install(db.owner_url, force=True)  # no --spec: companies is re-registered all the same

    old = [
        "pgstaging.run_promotion(name, integer, text, boolean, bigint[])",
        "pgstaging.run_unpromotion(name, integer, text, boolean)",
    ]
    new = []
    for table in ("postings", "companies"):
        old += [
            f"promote_{table}_staging(integer)",
            f"promote_{table}_staging(integer, boolean)",
            f"retry_{table}_staging(integer)",
            f"unpromote_{table}_staging(integer, text, boolean)",
        ]
        new += [
            f"promote_{table}_staging(integer, boolean, bigint, boolean)",
            f"retry_{table}_staging(integer, bigint, boolean)",
            f"unpromote_{table}_staging(integer, text, boolean, bigint)",
        ]
    found = fetch_all(
        db.admin_url,
        "SELECT s, to_regprocedure(s) IS NOT NULL FROM unnest(%s::text[]) AS s",
        (old + new,),
    )
    assert found == [(s, s in new) for s in old + new]
    assert fetch_all(
        db.admin_url,
        "SELECT has_function_privilege('nobody_login', p.promote, 'EXECUTE'),"
        " has_function_privilege(pgstaging.group_role('validator'), p.retry, 'EXECUTE'),"
        " has_function_privilege(pgstaging.group_role('reader'), p.promote, 'EXECUTE')"
        " FROM (VALUES"
        "  ('promote_companies_staging(integer, boolean, bigint, boolean)'::regprocedure,"
        "   'retry_companies_staging(integer, bigint, boolean)'::regprocedure))"
        " AS p (promote, retry)",
    ) == [(True, True, False)]
    with StagingClient.connect(db.url()) as owner:
        run_id = owner.start_run()
    with StagingClient.connect(db.url("validator_login")) as validator:
        result = validator.promote("companies", run_id, interaction_id=5)
    assert result.as_json()["status"] == "SUCCESS"
