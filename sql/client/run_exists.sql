SELECT pgstaging.run_exists(%(workflow_run_id)s) AS run_exists
