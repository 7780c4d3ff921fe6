-- The generator, step 4: a spec's statements, built from its field rows.
-- Pure of side effects (it only reads the catalog, for references), so
-- `pgstaging spec check` shows exactly what registration would store.
CREATE OR REPLACE FUNCTION pgstaging.spec_statements(p_spec jsonb, p_schema name)
RETURNS TABLE (step text, statement text)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_table name := p_spec ->> 'table';
    v_policy text := coalesce(p_spec ->> 'on_duplicate', 'skip');
    v_production text := format('%I.%I', p_schema, v_table);
    v_staging text := format('%I.%I', p_schema, v_table || '_staging');
    v_fields jsonb;
    v_columns text [];
    v_key_judged text [];
    v_key_conflict text [];
    v_key_match text [];
    v_key_order text [];
    v_judge text;
    v_patch_judge text;
BEGIN
    SELECT jsonb_agg(to_jsonb(f) ORDER BY f.ord), array_agg(f.column_name::text ORDER BY f.ord)
    INTO v_fields, v_columns
    FROM pgstaging.spec_fields(p_spec) AS f;

    -- The natural key: as judged (j.), as the arbiter, as a match, as an order.
    SELECT array_agg(format(CASE WHEN f.case_insensitive THEN 'lower(j.%I)' ELSE 'j.%I' END, k.name) ORDER BY k.ord),
           array_agg(format(CASE WHEN f.case_insensitive THEN 'lower(%I)' ELSE '%I' END, k.name) ORDER BY k.ord),
           array_agg(format(CASE WHEN f.case_insensitive THEN 'lower(p.%1$I) = lower(j.%1$I)' ELSE 'p.%1$I = j.%1$I' END, k.name)
                     ORDER BY k.ord),
           array_agg(format(CASE WHEN f.case_insensitive THEN 'lower(p.%I)' ELSE 'p.%I' END, k.name) ORDER BY k.ord)
    INTO v_key_judged, v_key_conflict, v_key_match, v_key_order
    FROM jsonb_array_elements_text(p_spec -> 'natural_key') WITH ORDINALITY AS k (name, ord)
    INNER JOIN jsonb_to_recordset(v_fields) AS f (column_name name, case_insensitive boolean) ON f.column_name = k.name;

    v_judge := pgstaging.build_judge_sql(v_table, v_staging, v_fields, p_spec -> 'rules', pgstaging.build_filter_sql('insert'));
    v_patch_judge := pgstaging.build_judge_sql(v_table, v_staging, v_fields, p_spec -> 'rules',
                                               pgstaging.build_filter_sql('patch'), true);

    step := 'judge';
    statement := pgstaging.build_judge_sql(v_table, v_staging, v_fields, p_spec -> 'rules', 'true');
    RETURN NEXT;
    step := 'insert';
    statement := pgstaging.build_insert_sql(v_production, v_staging, p_spec ->> 'id_column', v_policy, v_columns,
                                            v_key_judged, v_key_conflict, v_judge);
    RETURN NEXT;
    step := 'patch_lock';
    statement := pgstaging.build_patch_lock_sql(v_production, v_key_match, v_key_order, v_patch_judge);
    RETURN NEXT;
    step := 'patch';
    statement := pgstaging.build_patch_sql(v_production, v_staging, p_spec ->> 'id_column', v_fields, p_spec -> 'rules',
                                           v_key_match, v_patch_judge);
    RETURN NEXT;
    step := 'verdict';
    statement := pgstaging.build_verdict_sql(v_production, v_staging, p_spec ->> 'id_column', v_policy, v_key_match, v_judge);
    RETURN NEXT;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.spec_statements(jsonb, name) FROM PUBLIC;

-- A spec compiled, nothing registered: the statements `spec check` prints.
-- SECURITY INVOKER: it reads only what the caller may.
CREATE OR REPLACE FUNCTION pgstaging.compile_spec(p_spec jsonb)
RETURNS TABLE (step text, statement text)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_spec jsonb := pgstaging.checked_spec(p_spec);
BEGIN
    RETURN QUERY
    SELECT s.step, s.statement
    FROM pgstaging.spec_statements(v_spec, coalesce(
        (SELECT n.nspname FROM pgstaging.staged_tables AS t
         INNER JOIN pg_catalog.pg_class AS c ON c.oid = t.production_table
         INNER JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
         ORDER BY t.table_name LIMIT 1),
        'public')) AS s;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.compile_spec(jsonb) FROM PUBLIC;

-- A candidate spec tried on rows already staged, changing nothing: the
-- pending rows and those of p_runs (default: the last 10 runs staged).
-- How verdicts would change against the registered rules: newly failing
-- and newly passing rows, by field and error, with a few examples each.
CREATE OR REPLACE FUNCTION pgstaging.try_spec(p_spec jsonb, p_runs integer [] DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_spec jsonb := pgstaging.checked_spec(p_spec);
    v_table pgstaging.staged_tables := pgstaging.staged_table(v_spec ->> 'table');
    v_fields jsonb;
    v_judge text;
    v_runs integer [] := p_runs;
    v_report jsonb;
BEGIN
    IF v_runs IS NULL THEN
        EXECUTE format('SELECT array_agg(r.workflow_run_id) FROM (SELECT DISTINCT s.workflow_run_id FROM %s AS s'
                       ' ORDER BY 1 DESC LIMIT 10) AS r', v_table.staging_table)
            INTO v_runs;
    END IF;
    SELECT jsonb_agg(to_jsonb(f) ORDER BY f.ord) INTO v_fields FROM pgstaging.spec_fields(v_spec) AS f;
    v_judge := pgstaging.build_judge_sql(v_table.table_name, v_table.staging_table::text, v_fields, v_spec -> 'rules',
        '(s.workflow_run_id = ANY ($1) OR s.outcome IS NULL) AND s.operation = ''insert''');
    EXECUTE format($sql$
        WITH compared AS (
            SELECT j.staging_id, s.workflow_run_id, s.raw_data, s.outcome, s.validation_errors AS registered_errors,
                   j.errors AS candidate_errors,
                   CASE WHEN j.errors IS NOT NULL AND s.outcome IS DISTINCT FROM 'failed' THEN 'newly_failing'
                        WHEN j.errors IS NULL AND s.outcome = 'failed' THEN 'newly_passing'
                        WHEN j.errors IS NOT NULL THEN 'still_failing'
                        ELSE 'still_passing' END AS change
            FROM (%1$s) AS j
            INNER JOIN %2$s AS s ON s.staging_id = j.staging_id
        ),
        reasons AS (
            SELECT c.change, e.value ->> 'field' AS field, e.value ->> 'error' AS error, count(*) AS n,
                   (array_agg(jsonb_build_object('staging_id', c.staging_id, 'workflow_run_id', c.workflow_run_id,
                                                 'raw_data', c.raw_data) ORDER BY c.staging_id))[1:3] AS examples
            FROM compared AS c
            CROSS JOIN LATERAL jsonb_array_elements(
                CASE c.change WHEN 'newly_failing' THEN c.candidate_errors WHEN 'newly_passing' THEN c.registered_errors
                              ELSE '[]' END) AS e (value)
            GROUP BY 1, 2, 3
        )
        SELECT jsonb_build_object(
            'table', %3$L,
            'registered_rule_version', %4$s,
            'runs', to_jsonb($1),
            'judged', (SELECT count(*) FROM compared),
            'newly_failing', (SELECT count(*) FROM compared WHERE change = 'newly_failing'),
            'newly_passing', (SELECT count(*) FROM compared WHERE change = 'newly_passing'),
            'still_failing', (SELECT count(*) FROM compared WHERE change = 'still_failing'),
            'still_passing', (SELECT count(*) FROM compared WHERE change = 'still_passing'),
            'changes', coalesce((SELECT jsonb_agg(jsonb_build_object('change', r.change, 'field', r.field, 'error', r.error,
                                                                     'rows', r.n, 'examples', to_jsonb(r.examples))
                                                  ORDER BY r.change, r.n DESC, r.field, r.error) FROM reasons AS r), '[]')
        )$sql$, v_judge, v_table.staging_table, v_table.table_name, v_table.rule_version)
        INTO v_report USING v_runs;
    RETURN v_report;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.try_spec(jsonb, integer []) FROM PUBLIC;
