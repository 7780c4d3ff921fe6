-- Validate, normalize, de-duplicate and promote one run's pending postings.
-- Set-based: one advisory lock, one INSERT, one UPDATE, whatever the row
-- count. Runs in the caller's transaction: a killed call promotes nothing.
CREATE OR REPLACE FUNCTION promote_postings_staging(p_workflow_run_id integer)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
-- FROM CURRENT pins the installer's "<target>, pgstaging, pg_temp":
-- pg_catalog is searched first and pg_temp last.
SET search_path FROM CURRENT
AS $function$
DECLARE
    v_result jsonb;
BEGIN
    IF p_workflow_run_id IS NULL THEN
        RAISE EXCEPTION 'pgstaging: workflow_run_id must not be NULL'
            USING ERRCODE = '22004',
                  HINT = 'Call promote_postings_staging(run_id) with the run whose rows should be promoted.';
    END IF;

    -- Tell the write guards this is pgstaging writing (they also require the
    -- owner as current_user). Reset before returning; an error rolls it back.
    PERFORM pg_catalog.set_config('pgstaging.writer', 'on', true);

    -- One validator per run at a time; other runs go on in parallel.
    -- A second caller waits, then finds nothing pending: zero counts.
    PERFORM pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtext('pgstaging.postings_staging'), p_workflow_run_id
    );

    -- New postings: valid rows, first staging_id per key. Inserting in key
    -- order keeps concurrent validators of overlapping runs deadlock-free;
    -- ON CONFLICT makes a racing insert of the same key a duplicate.
    INSERT INTO postings AS p (
        external_job_id, source_website, job_title, job_description, company_name, location,
        created_by_staging_id, created_by_interaction_id
    )
    SELECT DISTINCT ON (j.external_job_id)
        j.external_job_id, j.source_website, j.job_title, j.job_description, j.company_name, j.location,
        j.staging_id, j.interaction_id
    FROM pgstaging.postings_staging_judged AS j
    WHERE j.workflow_run_id = p_workflow_run_id
      AND NOT j.validated
      AND j.errors IS NULL
    ORDER BY j.external_job_id, j.staging_id
    ON CONFLICT (external_job_id) DO NOTHING;

    -- Verdicts. A fresh snapshot sees the postings just inserted and those
    -- committed meanwhile by other validators. A valid row whose key has no
    -- posting yet (staged after the INSERT's snapshot) stays pending.
    WITH verdict AS (
        SELECT
            j.staging_id,
            j.errors,
            p.posting_id,
            p.created_by_staging_id = j.staging_id AS created_here
        FROM pgstaging.postings_staging_judged AS j
        LEFT JOIN postings AS p
            ON j.errors IS NULL AND p.external_job_id = j.external_job_id
        WHERE j.workflow_run_id = p_workflow_run_id
          AND NOT j.validated
          AND (j.errors IS NOT NULL OR p.posting_id IS NOT NULL)
    ),
    marked AS (
        UPDATE postings_staging AS s
        SET validated = true,
            validated_at = pg_catalog.now(),
            validated_by = session_user,
            validation_errors = v.errors,
            promoted = v.errors IS NULL,
            promoted_to_id = v.posting_id,
            promoted_at = CASE WHEN v.errors IS NULL THEN pg_catalog.now() END,
            outcome = CASE
                WHEN v.errors IS NOT NULL THEN 'failed'
                WHEN v.created_here THEN 'promoted'
                ELSE 'duplicate'
            END
        FROM verdict AS v
        WHERE s.staging_id = v.staging_id
          AND NOT s.validated
        RETURNING s.staging_id, s.outcome, s.promoted_to_id, s.validation_errors
    )
    SELECT pg_catalog.jsonb_build_object(
        'status', 'SUCCESS',
        'promoted_count', count(*) FILTER (WHERE m.outcome = 'promoted'),
        'duplicate_count', count(*) FILTER (WHERE m.outcome = 'duplicate'),
        'failed_count', count(*) FILTER (WHERE m.outcome = 'failed'),
        'details', pg_catalog.jsonb_build_object(
            'promoted', coalesce(
                pg_catalog.jsonb_agg(
                    pg_catalog.jsonb_build_object('staging_id', m.staging_id, 'posting_id', m.promoted_to_id)
                    ORDER BY m.staging_id
                ) FILTER (WHERE m.outcome = 'promoted'),
                '[]'::jsonb
            ),
            'duplicates', coalesce(
                pg_catalog.jsonb_agg(
                    pg_catalog.jsonb_build_object('staging_id', m.staging_id, 'posting_id', m.promoted_to_id)
                    ORDER BY m.staging_id
                ) FILTER (WHERE m.outcome = 'duplicate'),
                '[]'::jsonb
            ),
            'failed', coalesce(
                pg_catalog.jsonb_agg(
                    pg_catalog.jsonb_build_object('staging_id', m.staging_id, 'errors', m.validation_errors)
                    ORDER BY m.staging_id
                ) FILTER (WHERE m.outcome = 'failed'),
                '[]'::jsonb
            )
        )
    )
    INTO v_result
    FROM marked AS m;

    PERFORM pg_catalog.set_config('pgstaging.writer', 'off', true);
    RETURN v_result;
END
$function$;

REVOKE ALL ON FUNCTION promote_postings_staging(integer) FROM PUBLIC;

COMMENT ON FUNCTION promote_postings_staging(integer) IS
'pgstaging: validate, de-duplicate and promote one run''s pending postings; returns the design''s summary JSON';

INSERT INTO pgstaging.staged_tables (table_name, production_table, staging_table, promote_function)
VALUES ('postings', 'postings', 'postings_staging', 'promote_postings_staging(integer)')
ON CONFLICT (table_name) DO UPDATE
SET production_table = excluded.production_table,
    staging_table = excluded.staging_table,
    promote_function = excluded.promote_function;
