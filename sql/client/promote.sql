SELECT pgstaging.promote(%(table)s, %(workflow_run_id)s) AS summary
