SELECT pgstaging.end_run(%(workflow_run_id)s, %(status)s) AS run
