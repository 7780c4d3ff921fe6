-- The floor, step 2 of 2: one UPDATE marking the staged rows that now have a
-- posting (promoted or duplicate), writing the same columns as
-- promote_postings_staging so each row costs the same copy. Rows without a
-- posting stay pending: telling why needs the rules the floor leaves out.
UPDATE postings_staging AS s
SET validated = true,
    validated_at = pg_catalog.now(),
    validated_by = session_user,
    promoted = true,
    promoted_to_id = p.posting_id,
    promoted_at = pg_catalog.now(),
    outcome = CASE WHEN p.created_by_staging_id = s.staging_id THEN 'promoted' ELSE 'duplicate' END
FROM postings AS p
WHERE p.external_job_id = s.raw_data ->> 'job_id'
    AND s.workflow_run_id = %(workflow_run_id)s
    AND NOT s.validated
