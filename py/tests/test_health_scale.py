"""Health at scale: indexes serve the last day, so health costs the same with any history."""

from __future__ import annotations

import psycopg
from support import fetch_all

HISTORY = """
INSERT INTO postings_staging (
    workflow_run_id, actor_id, raw_data, validated, promoted, promoted_to_id, outcome,
    validation_errors, rule_version, validated_at, validated_by, created_at)
SELECT %(run)s, %(actor)s, jsonb_build_object('job_id', 'h' || g, 'title', 't'),
       true, g %% 10 <> 0, CASE WHEN g %% 10 <> 0 THEN -g END,
       CASE WHEN g %% 10 = 0 THEN 'failed' ELSE 'promoted' END,
       CASE WHEN g %% 10 = 0 THEN '[{"field": "title", "error": "missing"}]'::jsonb END,
       1, now() - interval '30 days', 'validator_login', now() - interval '30 days'
FROM generate_series(1, 60000) AS g
"""
DOCUMENTS = [
    {"job_id": "H-1", "title": "Engineer", "extra_key": 1},
    {"job_id": "H-2"},
    {"job_id": "H-1", "title": "again"},
]


def health(url: str) -> list[tuple]:
    return fetch_all(url, "SELECT * FROM pgstaging.health() ORDER BY table_name")


def test_every_staging_table_has_the_health_indexes(db):
    rows = fetch_all(
        db.admin_url,
        "SELECT t.table_name, count(i.indexrelid) FROM pgstaging.staged_tables AS t"
        " LEFT JOIN pg_index AS i ON i.indrelid = t.staging_table AND i.indexrelid::regclass::text"
        " ~ '_(validated_at|created_at)_idx$' GROUP BY 1",
    )
    assert rows and all(n == 2 for _, n in rows), rows


def test_ensure_health_indexes_twice_is_silent(db):
    notices: list[str] = []
    with db.connect() as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary))
        before = conn.execute("SELECT count(*) FROM pg_class WHERE relkind = 'i'").fetchone()
        conn.execute("SELECT pgstaging.ensure_health_indexes('postings_staging')")
        after = conn.execute("SELECT count(*) FROM pg_class WHERE relkind = 'i'").fetchone()
    assert notices == [] and before == after


def test_health_reads_the_last_day_not_the_history(db, owner, script, validator, actor_id):
    old_run, run = owner.start_run(), owner.start_run()
    with psycopg.connect(db.admin_url) as conn:
        # Bulk history as the bench loads it: triggers and foreign keys off.
        conn.execute("SET session_replication_role = replica")
        conn.execute(HISTORY, {"run": old_run, "actor": actor_id})
    script.stage("postings", run, actor_id, DOCUMENTS)
    validator.promote("postings", run)
    script.stage("postings", run, actor_id, [{"job_id": "H-3", "title": "pending"}])
    with psycopg.connect(db.admin_url) as conn:
        conn.execute("ANALYZE postings_staging")
        plan = "\n".join(
            r[0] for r in conn.execute("EXPLAIN SELECT * FROM pgstaging.postings_health")
        )
    assert "Seq Scan on postings_staging" not in plan, plan

    with_indexes = health(db.url("reader_login"))
    postings = next(h for h in with_indexes if h[0] == "postings")
    assert postings[1] == 1  # one pending row
    assert (postings[3], postings[4]) == (3, 1)  # the last day: 3 judged, 1 failed
    assert postings[8] == [{"key": "extra_key", "rows": 1}]
    # The same answer without the indexes: they change the cost, not the result.
    with psycopg.connect(db.admin_url) as conn:
        conn.execute(
            "DROP INDEX postings_staging_validated_at_idx, postings_staging_created_at_idx"
        )
        without = conn.execute("SELECT * FROM pgstaging.health() ORDER BY table_name").fetchall()
        conn.rollback()
    assert [r[:2] + r[3:] for r in without] == [r[:2] + r[3:] for r in with_indexes]
