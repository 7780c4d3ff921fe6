-- Serialize promoters of one (table, run): the second waits, then finds
-- nothing pending. Other runs go on in parallel.
CREATE OR REPLACE FUNCTION pgstaging.lock_run(p_table name, p_workflow_run_id integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    INSERT INTO pgstaging.run_locks (table_name, workflow_run_id)
    VALUES (p_table, p_workflow_run_id)
    ON CONFLICT DO NOTHING;
    PERFORM 1 FROM pgstaging.run_locks AS l
    WHERE l.table_name = p_table AND l.workflow_run_id = p_workflow_run_id
    FOR UPDATE;
END
$function$;

-- The one promotion engine behind every promote_/retry_{table}_staging and
-- batch call. A fixed number of statements per call, whatever the row
-- count: the generated statements of the table's spec (registry), each run
-- once over the whole run. Everything happens in the caller's transaction.
CREATE OR REPLACE FUNCTION pgstaging.run_promotion(
    p_table name,
    p_workflow_run_id integer,
    p_action text,
    p_dry_run boolean,
    p_staging_ids bigint [] DEFAULT NULL
)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_spec pgstaging.staged_tables;
    v_mode text := CASE WHEN p_action = 'retry' THEN 'retry' ELSE 'pending' END;
    v_started timestamptz := clock_timestamp();
    -- Details are capped per list; counts are always exact (README).
    v_details_limit integer := 10000;
    v_result jsonb;
    v_writer text;  -- the caller's value, put back on the way out
BEGIN
    IF p_dry_run IS NULL THEN
        RAISE EXCEPTION 'pgstaging: p_dry_run must be true or false, not NULL' USING ERRCODE = '22004';
    END IF;
    IF p_workflow_run_id IS NULL AND p_staging_ids IS NULL THEN
        RAISE EXCEPTION 'pgstaging: workflow_run_id must not be NULL'
            USING ERRCODE = '22004',
                  HINT = pg_catalog.format('Call promote_%s_staging(run_id) with the run whose rows should be promoted.', p_table);
    END IF;
    SELECT t.* INTO STRICT v_spec FROM pgstaging.staged_tables AS t WHERE t.table_name = p_table;

    -- Tell the write guards this is pgstaging writing (they also require the
    -- table owner as current_user). An error rolls this back with the rest.
    v_writer := current_setting('pgstaging.writer', true);
    PERFORM set_config('pgstaging.writer', 'on', true);

    -- One validator per run at a time (batch mode holds its runs' locks).
    IF p_workflow_run_id IS NOT NULL THEN
        PERFORM pgstaging.lock_run(p_table, p_workflow_run_id);
    END IF;

    IF p_dry_run THEN
        -- Do it all, keep the summary, undo it all: one subtransaction per
        -- call (never per row).
        BEGIN
            v_result := pgstaging.apply_promotion(v_spec, p_workflow_run_id, v_mode, p_staging_ids, v_details_limit);
            RAISE EXCEPTION USING ERRCODE = 'PGSDR';
        EXCEPTION WHEN SQLSTATE 'PGSDR' THEN
            NULL;
        END;
        PERFORM set_config('pgstaging.writer', coalesce(v_writer, ''), true);
        RETURN v_result;
    END IF;

    IF v_mode = 'retry' THEN
        -- Keep the verdicts a retry replaces.
        EXECUTE format(
            'INSERT INTO pgstaging.superseded_verdicts (table_name, staging_id, outcome, validation_errors, rule_version, validated_at)'
            ' SELECT %L, s.staging_id, s.outcome, s.validation_errors, s.rule_version, s.validated_at FROM %s AS s'
            ' WHERE s.workflow_run_id = $1 AND s.outcome IN (''failed'', ''rolled_back'')',
            p_table, v_spec.staging_table)
        USING p_workflow_run_id;
    END IF;

    v_result := pgstaging.apply_promotion(v_spec, p_workflow_run_id, v_mode, p_staging_ids, v_details_limit);

    INSERT INTO pgstaging.promotion_log (
        table_name, workflow_run_id, action, rule_version,
        promoted_count, duplicate_count, updated_count, failed_count, started_at, duration
    )
    VALUES (
        p_table, p_workflow_run_id, p_action, v_spec.rule_version,
        (v_result ->> 'promoted_count')::bigint, (v_result ->> 'duplicate_count')::bigint,
        coalesce((v_result ->> 'updated_count')::bigint, 0), (v_result ->> 'failed_count')::bigint,
        v_started, clock_timestamp() - v_started
    );
    PERFORM pgstaging.count_call(v_result, p_staging_ids);  -- hook(obs): metrics counters, kept as calls happen

    -- Fail fast, alert: listeners hear of failures when the caller commits.
    IF (v_result ->> 'failed_count')::bigint > 0 THEN
        PERFORM pgstaging.raise_alert(jsonb_build_object(
            'table', p_table, 'workflow_run_id', p_workflow_run_id, 'action', p_action,
            'rule_version', v_spec.rule_version, 'called_by', session_user,
            'promoted_count', (v_result ->> 'promoted_count')::bigint,
            'duplicate_count', (v_result ->> 'duplicate_count')::bigint,
            'failed_count', (v_result ->> 'failed_count')::bigint
        ));
    END IF;

    PERFORM set_config('pgstaging.writer', coalesce(v_writer, ''), true);
    RETURN v_result;
END
$function$;

-- The generated statements, in order: new and changed production rows,
-- marked as such (a trigger keeps pre-images of changed ones); then, with a
-- fresh snapshot, verdicts for the rest. Each returns the summary of the
-- rows it marked; the caller gets both as one.
CREATE OR REPLACE FUNCTION pgstaging.apply_promotion(
    p_spec pgstaging.staged_tables,
    p_workflow_run_id integer,
    p_mode text,
    p_staging_ids bigint [],
    p_details_limit integer
)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_written jsonb;
    v_judged jsonb;
BEGIN
    EXECUTE p_spec.insert_sql INTO v_written
        USING p_workflow_run_id, p_mode, p_spec.rule_version, p_staging_ids, p_details_limit;
    EXECUTE p_spec.verdict_sql INTO v_judged
        USING p_workflow_run_id, p_mode, p_spec.rule_version, p_staging_ids, p_details_limit;
    RETURN pgstaging.merge_summaries(v_written, v_judged, p_details_limit);
END
$function$;

-- Two summaries as one: counts added; each details list merged in
-- staging_id order and capped again (marked truncated if that cut it).
-- A list one side left empty is taken as it is.
CREATE OR REPLACE FUNCTION pgstaging.merge_summaries(p_first jsonb, p_second jsonb, p_details_limit integer)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (p_first - 'details') || (p_second - 'details')
    || (
        SELECT coalesce(jsonb_object_agg(k.key, coalesce((p_first ->> k.key)::bigint, 0) + coalesce((p_second ->> k.key)::bigint, 0)), '{}')
        FROM jsonb_object_keys(p_first || p_second) AS k (key)
        WHERE k.key LIKE '%\_count'
    )
    || (
        SELECT jsonb_build_object('details', coalesce(jsonb_object_agg(l.name, CASE
                WHEN jsonb_array_length(l.second) = 0 THEN l.first
                WHEN jsonb_array_length(l.first) = 0 THEN l.second
                ELSE (
                    SELECT jsonb_agg(e.entry ORDER BY e.staging_id)
                    FROM (
                        SELECT x.entry, (x.entry ->> 'staging_id')::bigint AS staging_id
                        FROM jsonb_array_elements(l.first || l.second) AS x (entry)
                        ORDER BY 2
                        LIMIT p_details_limit
                    ) AS e
                )
            END), '{}'))
        || CASE WHEN bool_or(jsonb_array_length(l.first) + jsonb_array_length(l.second) > p_details_limit)
                THEN jsonb_build_object('details_truncated', true) ELSE '{}' END
        FROM (
            SELECT
                n.name,
                coalesce(p_first -> 'details' -> n.name, '[]') AS first,
                coalesce(p_second -> 'details' -> n.name, '[]') AS second
            FROM jsonb_object_keys(coalesce(p_first -> 'details', '{}') || coalesce(p_second -> 'details', '{}')) AS n (name)
        ) AS l
    );

-- Batch mode: promote up to p_limit pending rows of a table, whatever their
-- run. Workers take run locks with SKIP LOCKED, so several validators share
-- the backlog without waiting on each other (or on a per-run promotion),
-- and always lock in the same order: run, then production, then staging.
-- Call it until it reports zero rows.
CREATE OR REPLACE FUNCTION pgstaging.promote_batch(p_table text, p_limit integer DEFAULT 10000)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET "TimeZone" = 'UTC'
SET "DateStyle" = 'ISO, YMD'
SET standard_conforming_strings = on
AS $function$
DECLARE
    v_spec pgstaging.staged_tables := pgstaging.staged_table(p_table);
    v_runs integer [];
    v_ids bigint [];
    v_result jsonb;
BEGIN
    -- Callers need EXECUTE on the table's promote function, as for a run.
    IF NOT has_function_privilege(session_user, v_spec.promote_function, 'EXECUTE') THEN
        RAISE EXCEPTION 'pgstaging: permission denied to promote %', p_table
            USING ERRCODE = '42501', HINT = 'Grant staging_validator to this login.';
    END IF;
    EXECUTE format('SELECT array_agg(DISTINCT s.workflow_run_id) FROM %s AS s WHERE s.outcome IS NULL',
                   v_spec.staging_table)
        INTO v_runs;
    INSERT INTO pgstaging.run_locks (table_name, workflow_run_id)
    SELECT p_table, r.run FROM unnest(v_runs) AS r (run)
    ON CONFLICT DO NOTHING;
    SELECT array_agg(q.workflow_run_id) INTO v_runs
    FROM (
        SELECT l.workflow_run_id FROM pgstaging.run_locks AS l
        WHERE l.table_name = p_table AND l.workflow_run_id = ANY (v_runs)
        ORDER BY l.workflow_run_id
        FOR UPDATE SKIP LOCKED
    ) AS q;
    EXECUTE format(
        'SELECT array_agg(q.staging_id) FROM (SELECT s.staging_id FROM %s AS s'
        ' WHERE s.outcome IS NULL AND s.workflow_run_id = ANY ($2) ORDER BY s.staging_id LIMIT $1) AS q',
        v_spec.staging_table)
        INTO v_ids USING p_limit, v_runs;
    IF v_ids IS NULL THEN
        RETURN jsonb_build_object('status', 'SUCCESS', 'batch_size', 0, 'promoted_count', 0,
                                  'duplicate_count', 0, 'failed_count', 0);
    END IF;
    v_result := pgstaging.run_promotion(p_table, NULL, 'batch', false, v_ids);
    RETURN (v_result - 'details' - 'details_truncated') || jsonb_build_object('batch_size', cardinality(v_ids));
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.run_promotion(name, integer, text, boolean, bigint []) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.apply_promotion(pgstaging.staged_tables, integer, text, bigint [], integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.merge_summaries(jsonb, jsonb, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.promote_batch(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.lock_run(name, integer) FROM PUBLIC;
