-- The floor, step 1 of 2: what any promotion must at least do, with no rule
-- checks: one de-duplicating INSERT, earliest staging_id per key. The two
-- IS NOT NULL tests are postings' NOT NULL constraints, not rules.
INSERT INTO postings AS p (
    external_job_id, source_website, job_title, job_description, company_name, location,
    created_by_staging_id, created_by_interaction_id
)
SELECT DISTINCT ON (s.raw_data ->> 'job_id')
    s.raw_data ->> 'job_id',
    'deutsche_bank',
    s.raw_data ->> 'title',
    s.raw_data ->> 'description',
    'Deutsche Bank',
    s.raw_data ->> 'location',
    s.staging_id,
    s.interaction_id
FROM postings_staging AS s
WHERE s.workflow_run_id = %(workflow_run_id)s
    AND NOT s.validated
    AND s.raw_data ->> 'job_id' IS NOT NULL
    AND s.raw_data ->> 'title' IS NOT NULL
ORDER BY s.raw_data ->> 'job_id', s.staging_id
ON CONFLICT (external_job_id) DO NOTHING
