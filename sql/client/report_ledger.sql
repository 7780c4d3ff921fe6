-- The run's ledger per staged table (all, or %(table)s).
SELECT r.table_name, r.staged, r.pending, r.promoted, r.duplicate, r.updated, r.failed, r.rolled_back
FROM pgstaging.run_status(%(workflow_run_id)s) AS r
WHERE %(table)s::text IS NULL OR r.table_name = %(table)s::text
ORDER BY r.table_name
