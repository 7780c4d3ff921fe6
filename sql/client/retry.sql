SELECT pgstaging.retry(%(table)s, %(workflow_run_id)s, %(interaction_id)s) AS summary
