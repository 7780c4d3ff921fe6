SELECT pgstaging.promote(%(table)s, %(workflow_run_id)s, %(dry_run)s) AS summary
