-- Judge every pending row of the run once; keep nothing.
EXECUTE judge_count (%(workflow_run_id)s, 'pending', 1, NULL)
