-- The generated statements without run_promotion's bookkeeping, with a
-- chosen cap on the details lists (run_promotion passes 10000).
SELECT pgstaging.apply_promotion(t, %(workflow_run_id)s, 'pending', NULL, %(details_limit)s) AS summary
FROM pgstaging.staged_tables AS t
WHERE t.table_name = 'postings'
