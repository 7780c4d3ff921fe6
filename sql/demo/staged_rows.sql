-- The demo's closing view of one run: every staged row and its verdict.
SELECT
    s.staging_id,
    s.raw_data ->> 'job_id' AS job_id,
    coalesce(s.outcome, 'pending') AS outcome,
    s.promoted_to_id,
    s.validation_errors,
    s.inserted_by
FROM postings_staging AS s
WHERE s.workflow_run_id = %(workflow_run_id)s
ORDER BY s.staging_id
