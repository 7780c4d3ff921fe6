SELECT pgstaging.unpromote(%(table)s, %(workflow_run_id)s, %(reason)s, %(cascade)s, %(interaction_id)s) AS summary
