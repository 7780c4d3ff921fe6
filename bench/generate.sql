-- Stage data set p_prefix for one run, server-side (promotion and floor
-- data). The owner inserts exactly what a script would: the database fills
-- in inserted_by, created_at and the pending verdict.
INSERT INTO postings_staging (workflow_run_id, actor_id, raw_data)
SELECT %(workflow_run_id)s, %(actor_id)s, bench.posting_document(%(prefix)s, g.i)
FROM pg_catalog.generate_series(1, %(rows)s::bigint) AS g (i)
ORDER BY g.i
