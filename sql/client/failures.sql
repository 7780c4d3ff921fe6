SELECT f.staging_id, f.actor_id, f.inserted_by, f.created_at, f.validation_errors, f.raw_data
FROM pgstaging.run_failures(%(table)s, %(workflow_run_id)s) AS f
