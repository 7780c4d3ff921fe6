SELECT pgstaging.promote(%(table)s, %(workflow_run_id)s, %(dry_run)s, %(interaction_id)s) AS summary
