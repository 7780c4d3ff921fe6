SELECT s.table_name, s.staged, s.pending, s.promoted, s.duplicate, s.updated, s.failed, s.rolled_back, s.superseded
FROM pgstaging.run_status(%(workflow_run_id)s) AS s
