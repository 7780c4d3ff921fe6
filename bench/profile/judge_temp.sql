-- Judge once into a temporary table, as a judge-once promotion would.
CREATE TEMPORARY TABLE judged AS EXECUTE judge_rows (%(workflow_run_id)s, 'pending', 1, NULL)
