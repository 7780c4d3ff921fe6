-- The floor's step 2 with verdict_table.sql: the same verdicts, inserted.
INSERT INTO bench.verdicts (staging_id, outcome, promoted_to_id, validated_at, validated_by)
SELECT
    s.staging_id,
    CASE WHEN p.created_by_staging_id = s.staging_id THEN 'promoted' ELSE 'duplicate' END,
    p.posting_id,
    pg_catalog.now(),
    session_user
FROM postings_staging AS s
INNER JOIN postings AS p ON p.external_job_id = s.raw_data ->> 'job_id'
WHERE s.workflow_run_id = %(workflow_run_id)s
    AND NOT s.validated
