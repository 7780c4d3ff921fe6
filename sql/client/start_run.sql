-- A new run (pgstaging.start_run: the owner, validators, actors with `start`).
SELECT pgstaging.start_run(%(workflow_id)s) AS workflow_run_id
