-- Register a run the workflow engine already made.
SELECT pgstaging.start_run(p_workflow_run_id => %(workflow_run_id)s, p_workflow_id => %(workflow_id)s) AS workflow_run_id
