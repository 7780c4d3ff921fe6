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
    p_staging_ids bigint [],
    p_interaction_id bigint,
    p_ignore_gate boolean
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
    IF p_dry_run IS NULL OR p_ignore_gate IS NULL THEN
        RAISE EXCEPTION 'pgstaging: p_dry_run and p_ignore_gate must be true or false, not NULL' USING ERRCODE = '22004';
    END IF;
    IF p_workflow_run_id IS NULL AND p_staging_ids IS NULL THEN
        RAISE EXCEPTION 'pgstaging: workflow_run_id must not be NULL'
            USING ERRCODE = '22004',
                  HINT = pg_catalog.format('Call promote_%s_staging(run_id) with the run whose rows should be promoted.', p_table);
    END IF;
    v_spec := pgstaging.staged_table(p_table);

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
            v_result := pgstaging.gated_promotion(v_spec, p_workflow_run_id, v_mode, p_staging_ids, v_details_limit,
                                                  p_ignore_gate);
            RAISE EXCEPTION USING ERRCODE = 'PGSDR';
        EXCEPTION WHEN SQLSTATE 'PGSDR' THEN
            NULL;
        END;
        PERFORM set_config('pgstaging.writer', coalesce(v_writer, ''), true);
        RETURN pgstaging.with_patch_counts(v_spec, v_result);
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

    v_result := pgstaging.with_patch_counts(v_spec,
        pgstaging.gated_promotion(v_spec, p_workflow_run_id, v_mode, p_staging_ids, v_details_limit, p_ignore_gate));

    -- hook(runs): one log row and at most one alert per run, batch mode too;
    -- the interaction id in both.
    PERFORM pgstaging.log_promotion(v_spec, p_workflow_run_id, p_action, v_result, v_started, p_staging_ids, p_interaction_id);
    PERFORM pgstaging.count_call(v_result, p_staging_ids);  -- metrics counters, kept as calls happen

    -- Fail fast: a run that broke its gate is failed, whatever comes next.
    IF v_result ->> 'status' = 'FAILED' AND p_workflow_run_id IS NOT NULL THEN
        PERFORM pgstaging.mark_run_failed(p_workflow_run_id, jsonb_build_object('table', p_table, 'gate', v_result -> 'gate'));
    END IF;

    PERFORM set_config('pgstaging.writer', coalesce(v_writer, ''), true);
    RETURN v_result;
END
$function$;

-- A table that accepts patches reports updated_count and details.updated
-- whatever its policy.
CREATE OR REPLACE FUNCTION pgstaging.with_patch_counts(p_spec pgstaging.staged_tables, p_summary jsonb)
RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE
    WHEN p_summary ? 'updated_count' THEN p_summary
    WHEN EXISTS (SELECT 1 FROM pgstaging.actor_rights AS r WHERE r.table_name = (p_spec).table_name AND r.right_name = 'patch')
        THEN p_summary || jsonb_build_object('updated_count', 0,
                                             'details', coalesce(p_summary -> 'details', '{}') || '{"updated": []}')
    ELSE p_summary
END;

-- A table's gate ("gate": {"max_failure_rate": 0.05, "min_rows": 1}) over
-- all of the run's verdicts in that table, earlier calls' included: the
-- first rule broken, or NULL when the run passes.
CREATE OR REPLACE FUNCTION pgstaging.judge_gate(p_spec pgstaging.staged_tables, p_workflow_run_id integer)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_gate jsonb := p_spec.spec -> 'gate';
    v_judged bigint;
    v_failed bigint;
BEGIN
    IF v_gate IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT count(*) FILTER (WHERE s.outcome IN (''promoted'', ''duplicate'', ''updated'', ''failed'')),'
                   ' count(*) FILTER (WHERE s.outcome = ''failed'') FROM %s AS s WHERE s.workflow_run_id = $1',
                   p_spec.staging_table)
        INTO v_judged, v_failed USING p_workflow_run_id;
    IF v_gate ? 'min_rows' AND v_judged < (v_gate ->> 'min_rows')::bigint THEN
        RETURN jsonb_build_object('rule', 'min_rows', 'limit', v_gate -> 'min_rows', 'actual', v_judged);
    END IF;
    IF v_gate ? 'max_failure_rate' AND v_judged > 0
        AND v_failed::numeric / v_judged > (v_gate ->> 'max_failure_rate')::numeric THEN
        RETURN jsonb_build_object('rule', 'max_failure_rate', 'limit', v_gate -> 'max_failure_rate',
                                  'actual', round(v_failed::numeric / v_judged, 4));
    END IF;
    RETURN NULL;
END
$function$;

-- A promotion under the table's gate. A run that breaks it promotes
-- nothing: the attempt is undone (one subtransaction per call), failed
-- rows get their verdicts, valid rows stay pending (held).
CREATE OR REPLACE FUNCTION pgstaging.gated_promotion(
    p_spec pgstaging.staged_tables,
    p_workflow_run_id integer,
    p_mode text,
    p_staging_ids bigint [],
    p_details_limit integer,
    p_ignore_gate boolean
)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_result jsonb;
    v_gate jsonb;
    v_held bigint;
BEGIN
    IF p_spec.spec -> 'gate' IS NULL OR p_workflow_run_id IS NULL THEN
        RETURN pgstaging.apply_promotion(p_spec, p_workflow_run_id, p_mode, p_staging_ids, p_details_limit);
    END IF;
    IF p_ignore_gate THEN
        v_result := pgstaging.apply_promotion(p_spec, p_workflow_run_id, p_mode, p_staging_ids, p_details_limit);
        v_gate := pgstaging.judge_gate(p_spec, p_workflow_run_id);
        RETURN v_result || CASE WHEN v_gate IS NULL THEN '{}'
                                ELSE jsonb_build_object('gate', v_gate || '{"ignored": true}') END;
    END IF;
    BEGIN
        v_result := pgstaging.apply_promotion(p_spec, p_workflow_run_id, p_mode, p_staging_ids, p_details_limit);
        v_gate := pgstaging.judge_gate(p_spec, p_workflow_run_id);
        IF v_gate IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'PGSGT';
        END IF;
    EXCEPTION WHEN SQLSTATE 'PGSGT' THEN
        v_held := coalesce((v_result ->> 'promoted_count')::bigint, 0) + coalesce((v_result ->> 'duplicate_count')::bigint, 0)
            + coalesce((v_result ->> 'updated_count')::bigint, 0);
        v_result := pgstaging.apply_promotion(p_spec, p_workflow_run_id, p_mode || '-failures', p_staging_ids, p_details_limit)
            || jsonb_build_object('status', 'FAILED', 'gate', v_gate, 'held_count', v_held);
    END;
    RETURN v_result;
END
$function$;

-- The generated statements, in order: new (and, under the update policy,
-- changed) production rows; then, if the call has patches, the rows they
-- name locked and the patches applied; then, with a fresh snapshot,
-- verdicts for the rest. Each returns the summary of the rows it marked;
-- the caller gets them as one.
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
    v_result jsonb;
    v_part jsonb;
    v_patches boolean;
BEGIN
    EXECUTE p_spec.insert_sql INTO v_result
        USING p_workflow_run_id, p_mode, p_spec.rule_version, p_staging_ids, p_details_limit;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s AS s WHERE %s)', p_spec.staging_table, pgstaging.build_filter_sql('patch'))
        INTO v_patches USING p_workflow_run_id, p_mode, p_spec.rule_version, p_staging_ids;
    IF v_patches THEN
        EXECUTE p_spec.patch_lock_sql USING p_workflow_run_id, p_mode, p_spec.rule_version, p_staging_ids, p_details_limit;
        EXECUTE p_spec.patch_sql INTO v_part
            USING p_workflow_run_id, p_mode, p_spec.rule_version, p_staging_ids, p_details_limit;
        v_result := pgstaging.merge_summaries(v_result, v_part, p_details_limit);
    END IF;
    EXECUTE p_spec.verdict_sql INTO v_part
        USING p_workflow_run_id, p_mode, p_spec.rule_version, p_staging_ids, p_details_limit;
    RETURN pgstaging.merge_summaries(v_result, v_part, p_details_limit);
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
    v_run integer;
    v_run_ids bigint [];
    v_part jsonb;
BEGIN
    -- Callers need EXECUTE on the table's promote function, as for a run.
    IF NOT has_function_privilege(session_user, v_spec.promote_function, 'EXECUTE') THEN
        RAISE EXCEPTION 'pgstaging: permission denied to promote %', p_table
            USING ERRCODE = '42501', HINT = format('Grant %I to this login.', pgstaging.group_role('validator'));
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
    IF v_spec.spec -> 'gate' IS NULL THEN
        v_result := pgstaging.run_promotion(p_table, NULL, 'batch', false, v_ids, NULL, false);
    ELSE
        -- A gate is judged per run: one gated promotion per run of the batch.
        v_result := jsonb_build_object('status', 'SUCCESS', 'promoted_count', 0, 'duplicate_count', 0, 'failed_count', 0);
        FOR v_run, v_run_ids IN
            EXECUTE format('SELECT s.workflow_run_id, array_agg(s.staging_id) FROM %s AS s WHERE s.staging_id = ANY ($1)'
                           ' GROUP BY 1 ORDER BY 1', v_spec.staging_table)
            USING v_ids
        LOOP
            v_part := pgstaging.run_promotion(p_table, v_run, 'batch', false, v_run_ids, NULL, false);
            v_result := pgstaging.merge_summaries(v_result - 'status', v_part - 'status', 0)
                || jsonb_build_object('status', CASE WHEN v_result ->> 'status' = 'FAILED' OR v_part ->> 'status' = 'FAILED'
                                                     THEN 'FAILED' ELSE 'SUCCESS' END);
        END LOOP;
    END IF;
    RETURN (v_result - 'details' - 'details_truncated' - 'gate') || jsonb_build_object('batch_size', cardinality(v_ids));
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.run_promotion(name, integer, text, boolean, bigint [], bigint, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.with_patch_counts(pgstaging.staged_tables, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.judge_gate(pgstaging.staged_tables, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.gated_promotion(pgstaging.staged_tables, integer, text, bigint [], integer, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.apply_promotion(pgstaging.staged_tables, integer, text, bigint [], integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.merge_summaries(jsonb, jsonb, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.promote_batch(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.lock_run(name, integer) FROM PUBLIC;
