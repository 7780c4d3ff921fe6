-- Needs INSERT on workflow_runs: the workflow engine (or the owner) starts runs.
INSERT INTO workflow_runs DEFAULT VALUES
RETURNING workflow_run_id
