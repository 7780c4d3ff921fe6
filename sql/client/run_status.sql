SELECT s.table_name, s.staged, s.pending, s.promoted, s.duplicate, s.failed
FROM pgstaging.run_status(%(workflow_run_id)s) AS s
