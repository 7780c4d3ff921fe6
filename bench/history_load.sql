-- History for the history scenario, bulk-loaded by the superuser with
-- triggers and foreign keys off (session_replication_role = replica, set
-- by history_replica.sql in the same session): judged rows of small raw
-- data, judged more than a day ago, 10,000 rows per run. 85 percent promoted, 10 percent
-- failed, 5 percent duplicates; promoted_to_id is negative, so it never meets a
-- real production id (no production rows are made for history).
WITH runs AS (
    INSERT INTO workflow_runs (started_at)
    SELECT now() - interval '40 days'
    FROM pg_catalog.generate_series(1, (%(rows)s::bigint + 9999) / 10000)
    RETURNING workflow_run_id
),
numbered AS (
    SELECT r.workflow_run_id, pg_catalog.row_number() OVER (ORDER BY r.workflow_run_id) - 1 AS n FROM runs AS r
)
INSERT INTO postings_staging (
    workflow_run_id, actor_id, raw_data, validated, promoted, promoted_to_id, promoted_at, outcome,
    validation_errors, rule_version, validated_at, validated_by, created_at
)
SELECT
    u.workflow_run_id, %(actor_id)s,
    pg_catalog.jsonb_build_object('job_id', 'hist-' || g.i, 'title', 'Engineer ' || g.i),
    true,
    g.i %% 20 NOT IN (3, 4),
    CASE WHEN g.i %% 20 NOT IN (3, 4) THEN -g.i END,
    CASE WHEN g.i %% 20 NOT IN (3, 4) THEN t.at END,
    CASE WHEN g.i %% 20 IN (3, 4) THEN 'failed' WHEN g.i %% 20 = 7 THEN 'duplicate' ELSE 'promoted' END,
    CASE WHEN g.i %% 20 IN (3, 4) THEN '[{"field": "title", "error": "missing"}]'::jsonb END,
    1, t.at, 'validator_login', t.at
FROM pg_catalog.generate_series(1, %(rows)s::bigint) AS g (i)
INNER JOIN numbered AS u ON u.n = (g.i - 1) / 10000
-- Spread over the 40 days before yesterday, in staging order.
CROSS JOIN LATERAL (
    SELECT now() - interval '2 days' - interval '38 days' * (1 - g.i::double precision / %(rows)s) AS at
) AS t
ORDER BY g.i
