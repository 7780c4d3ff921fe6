EXECUTE promote_once (%(workflow_run_id)s, 'pending', 1, NULL, 10000)
