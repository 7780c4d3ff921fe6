-- The postings rules, as one set-based view over postings_staging: each
-- staged row with its normalized fields and its errors (NULL when valid).
-- promote_postings_staging reads it; nothing here runs row by row.
--
-- Error codes (the design's {"field": ..., "error": ...} form):
--   raw_data: not an object
--   job_id:   missing | empty | wrong type | not an integer | too long (> 200)
--   title:    missing | empty | wrong type | too long (> 500 characters)
--   description, location, source_website, company_name: wrong type
--             (optional; source_website > 200 and company_name > 500 are too long)
CREATE OR REPLACE VIEW pgstaging.postings_staging_judged AS
SELECT
    f.staging_id,
    f.workflow_run_id,
    f.interaction_id,
    f.validated,
    pgstaging.key_value(f.job_id) AS external_job_id,
    coalesce(pgstaging.text_value(f.source_website), 'deutsche_bank') AS source_website,
    pgstaging.text_value(f.title) AS job_title,
    pgstaging.text_value(f.description) AS job_description,
    coalesce(pgstaging.text_value(f.company_name), 'Deutsche Bank') AS company_name,
    pgstaging.text_value(f.location) AS location,
    nullif(
        CASE WHEN f.is_object THEN '[]'::jsonb ELSE pgstaging.field_error('raw_data', 'not an object') END
        || CASE WHEN f.is_object THEN pgstaging.field_error('job_id', pgstaging.key_error(f.job_id, 200)) ELSE '[]' END
        || CASE WHEN f.is_object THEN pgstaging.field_error('title', pgstaging.text_error(f.title, true, 500)) ELSE '[]' END
        || pgstaging.field_error('description', pgstaging.text_error(f.description, false, 2147483647))
        || pgstaging.field_error('location', pgstaging.text_error(f.location, false, 2147483647))
        || pgstaging.field_error('source_website', pgstaging.text_error(f.source_website, false, 200))
        || pgstaging.field_error('company_name', pgstaging.text_error(f.company_name, false, 500)),
        '[]'::jsonb
    ) AS errors
FROM (
    SELECT
        s.staging_id,
        s.workflow_run_id,
        s.interaction_id,
        s.validated,
        pg_catalog.jsonb_typeof(s.raw_data) = 'object' AS is_object,
        r.job_id,
        r.title,
        r.description,
        r.location,
        r.source_website,
        r.company_name
    FROM postings_staging AS s
    -- One pass over each document; a non-object yields all-NULL fields.
    CROSS JOIN LATERAL pg_catalog.jsonb_to_record(
        CASE WHEN pg_catalog.jsonb_typeof(s.raw_data) = 'object' THEN s.raw_data ELSE '{}'::jsonb END
    ) AS r (job_id jsonb, title jsonb, description jsonb, location jsonb, source_website jsonb, company_name jsonb)
) AS f;

COMMENT ON VIEW pgstaging.postings_staging_judged IS 'pgstaging: postings rules; one row per staged posting with normalized fields and errors';

REVOKE ALL ON TABLE pgstaging.postings_staging_judged FROM PUBLIC;
