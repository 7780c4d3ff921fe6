SELECT promote_postings_staging(%(workflow_run_id)s) AS summary
