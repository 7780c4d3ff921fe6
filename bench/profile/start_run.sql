INSERT INTO workflow_runs DEFAULT VALUES RETURNING workflow_run_id
