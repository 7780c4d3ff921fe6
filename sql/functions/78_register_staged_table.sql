-- Register (or re-register) a staged table from its spec: the generator's
-- steps, in order. One call creates or completes the production table,
-- {table}_staging with its guards, the judged and health views, the
-- promote_/retry_/unpromote_{table}_staging functions and the grants. A
-- changed spec becomes a new rule version; verdicts already given keep the
-- version they were judged by. The spec format: README "Specs".

-- A spec, checked once: its shape, its names, its key. Returns the spec
-- in native form (a JSON Schema spec compiles to native fields).
CREATE OR REPLACE FUNCTION pgstaging.checked_spec(p_spec jsonb)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_spec jsonb := p_spec;
    v_key text;
BEGIN
    -- Every key at every level checked; a JSON Schema spec compiled to fields.
    v_spec := pgstaging.normalize_spec(p_spec);
    IF v_spec ->> 'table' IS NULL OR v_spec ->> 'id_column' IS NULL OR jsonb_typeof(v_spec -> 'fields') IS DISTINCT FROM 'array'
        OR jsonb_typeof(v_spec -> 'natural_key') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'pgstaging: a spec needs "table", "id_column", "natural_key" and "fields"'
            USING ERRCODE = '22023', DETAIL = p_spec::text;
    END IF;
    IF coalesce(v_spec ->> 'on_duplicate', 'skip') NOT IN ('skip', 'update') THEN
        RAISE EXCEPTION 'pgstaging: on_duplicate must be skip or update, not "%"', v_spec ->> 'on_duplicate'
            USING ERRCODE = '22023';
    END IF;
    PERFORM pgstaging.check_spec_names(v_spec);
    FOR v_key IN SELECT jsonb_array_elements_text(v_spec -> 'natural_key') LOOP
        IF NOT EXISTS (SELECT 1 FROM jsonb_array_elements(v_spec -> 'fields') AS f WHERE f.value ->> 'column' = v_key) THEN
            RAISE EXCEPTION 'pgstaging: natural key column "%" is not a field of "%"', v_key, v_spec ->> 'table'
                USING ERRCODE = '22023';
        END IF;
        -- A NULL never equals anything: a key that may be NULL could never
        -- be found again, and each promotion would add another row.
        IF NOT EXISTS (SELECT 1 FROM jsonb_array_elements(v_spec -> 'fields') AS f
                       WHERE f.value ->> 'column' = v_key
                         AND (coalesce((f.value ->> 'required')::boolean, false) OR f.value ? 'default')) THEN
            RAISE EXCEPTION 'pgstaging: natural key column "%" of "%" must be required or have a default', v_key,
                v_spec ->> 'table'
                USING ERRCODE = '22023';
        END IF;
    END LOOP;
    RETURN v_spec;
END
$function$;

CREATE OR REPLACE FUNCTION pgstaging.register_staged_table(p_spec jsonb)
RETURNS integer
LANGUAGE plpgsql
-- FROM CURRENT: the installer's target schema comes first for new objects.
SET search_path FROM CURRENT
AS $function$
DECLARE
    v_schema name := current_schema();
    v_spec jsonb;
    v_table name;
    v_fields jsonb;
    v_old pgstaging.staged_tables;
    v_version integer;
    v_prod regclass;
    v_stage regclass;
    v_statements jsonb;
BEGIN
    -- `pgstaging spec check FILE.sql`: collect the spec, create nothing.
    IF current_setting('pgstaging.capture_specs', true) = 'on' THEN
        -- The client made the temp table for this transaction.
        EXECUTE format('INSERT INTO %I.pgstaging_captured_specs (spec) VALUES ($1)', 'pg_temp') USING p_spec;
        RETURN 0;
    END IF;

    v_spec := pgstaging.checked_spec(p_spec);
    v_table := v_spec ->> 'table';
    SELECT jsonb_agg(to_jsonb(f) ORDER BY f.ord) INTO v_fields FROM pgstaging.spec_fields(v_spec) AS f;
    SELECT t.* INTO v_old FROM pgstaging.staged_tables AS t WHERE t.table_name = v_table;

    -- An existing table with data: checked, its changes reported, observed.
    PERFORM pgstaging.check_adoption(v_spec);
    v_prod := pgstaging.ensure_production_table(v_schema, v_spec, v_fields);
    v_stage := pgstaging.ensure_staging_table(v_schema, v_table);
    PERFORM pgstaging.ensure_staging_guards(v_stage);
    PERFORM pgstaging.attach_staging_rights(v_stage);
    PERFORM pgstaging.ensure_production_keys(v_prod, v_stage, v_spec, v_fields,
        coalesce(v_old.key_sql, pgstaging.spec_key_sql(v_old.spec)));

    SELECT jsonb_object_agg(s.step, s.statement) INTO v_statements FROM pgstaging.spec_statements(v_spec, v_schema) AS s;

    -- The statements run under search_path pg_catalog, pg_temp: parse them
    -- so now, so a rule naming an unqualified table (which a caller's temp
    -- table could shadow at run time) is refused here, not at promotion.
    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
    BEGIN
        PERFORM pgstaging.check_statement(v_statements ->> 'judge');
        PERFORM pgstaging.check_statement(v_statements ->> 'insert');
        PERFORM pgstaging.check_statement(v_statements ->> 'patch_lock');
        PERFORM pgstaging.check_statement(v_statements ->> 'patch');
        PERFORM pgstaging.check_statement(v_statements ->> 'verdict');
    EXCEPTION WHEN undefined_table OR undefined_function OR undefined_column THEN
        RAISE EXCEPTION 'pgstaging: the rules of "%" do not compile under search_path pg_catalog, pg_temp: %', v_table, SQLERRM
            USING ERRCODE = '22023', HINT = 'Schema-qualify tables and functions in rule checks, e.g. public.banned_words.';
    END;
    PERFORM set_config('search_path', format('%I, pgstaging, pg_temp', v_schema), true);
    PERFORM pgstaging.create_judged_view(v_table, v_statements ->> 'judge');

    -- Rule version: a changed spec is a new version; the same spec is not.
    v_version := CASE WHEN v_old.spec IS NULL THEN 1
                      WHEN v_old.spec IS DISTINCT FROM p_spec THEN v_old.rule_version + 1
                      ELSE v_old.rule_version END;

    PERFORM pgstaging.create_entry_points(v_schema, v_table);

    INSERT INTO pgstaging.staged_tables AS t (
        table_name, production_table, staging_table, promote_function, spec, rule_version, on_duplicate,
        known_keys, insert_sql, verdict_sql, judge_sql, patch_lock_sql, patch_sql, key_sql
    )
    VALUES (
        v_table, v_prod, v_stage,
        format('%I.%I(integer, boolean, bigint, boolean)', v_schema, 'promote_' || v_table || '_staging')::regprocedure,
        p_spec, v_version, coalesce(v_spec ->> 'on_duplicate', 'skip'),
        ARRAY(SELECT DISTINCT k FROM jsonb_to_recordset(v_fields) AS f (keys text []) CROSS JOIN unnest(f.keys) AS k ORDER BY k),
        v_statements ->> 'insert', v_statements ->> 'verdict', v_statements ->> 'judge',
        v_statements ->> 'patch_lock', v_statements ->> 'patch', pgstaging.spec_key_sql(v_spec)
    )
    ON CONFLICT (table_name) DO UPDATE
    SET production_table = excluded.production_table, staging_table = excluded.staging_table,
        promote_function = excluded.promote_function, spec = excluded.spec,
        rule_version = excluded.rule_version, on_duplicate = excluded.on_duplicate,
        known_keys = excluded.known_keys,
        insert_sql = excluded.insert_sql, verdict_sql = excluded.verdict_sql, judge_sql = excluded.judge_sql,
        patch_lock_sql = excluded.patch_lock_sql, patch_sql = excluded.patch_sql, key_sql = excluded.key_sql,
        registered_at = CASE WHEN t.spec IS DISTINCT FROM excluded.spec THEN now() ELSE t.registered_at END;
    INSERT INTO pgstaging.rule_versions (table_name, rule_version, spec)
    VALUES (v_table, v_version, p_spec)
    ON CONFLICT DO NOTHING;

    PERFORM pgstaging.create_health_view(v_table);
    PERFORM pgstaging.grant_staged_table(v_table);
    RETURN v_version;
END
$function$;

-- Parse and plan a generated statement with the parameter contract,
-- without running it.
CREATE OR REPLACE FUNCTION pgstaging.check_statement(p_statement text)
RETURNS void
LANGUAGE plpgsql
AS $function$
BEGIN
    EXECUTE format('PREPARE pgstaging_check %s AS %s', pgstaging.statement_parameters(), p_statement);
    DEALLOCATE pgstaging_check;
END
$function$;

-- A packaged spec (sql/specs/) changes a table only while the table still
-- has the previous packaged spec: a spec the owner re-registered is kept
-- (and its statements regenerated), whatever install, --force or an
-- upgrade brings.
CREATE OR REPLACE FUNCTION pgstaging.register_packaged_spec(p_spec jsonb)
RETURNS integer
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $function$
DECLARE
    v_old pgstaging.staged_tables;
    v_version integer;
BEGIN
    IF current_setting('pgstaging.capture_specs', true) = 'on' THEN
        RETURN pgstaging.register_staged_table(p_spec);
    END IF;
    SELECT t.* INTO v_old FROM pgstaging.staged_tables AS t WHERE t.table_name = p_spec ->> 'table';
    -- Before 0.2.0 nothing recorded the packaged spec: a table never
    -- re-registered (rule version 1) still has it.
    IF v_old.table_name IS NOT NULL
        AND v_old.spec IS DISTINCT FROM p_spec
        AND v_old.spec IS DISTINCT FROM coalesce(v_old.packaged_spec, CASE WHEN v_old.rule_version = 1 THEN v_old.spec END) THEN
        RAISE NOTICE 'pgstaging: kept the owner''s spec of % (rule version %); the packaged spec was not applied',
            v_old.table_name, v_old.rule_version;
        v_version := pgstaging.register_staged_table(v_old.spec);
    ELSE
        v_version := pgstaging.register_staged_table(p_spec);
    END IF;
    UPDATE pgstaging.staged_tables AS t SET packaged_spec = p_spec WHERE t.table_name = p_spec ->> 'table';
    RETURN v_version;
END
$function$;

-- After an install or upgrade: every staged table's statements and
-- functions regenerated from its current spec (no new rule version).
CREATE OR REPLACE FUNCTION pgstaging.regenerate_staged_tables()
RETURNS void
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $function$
DECLARE
    v_spec jsonb;
BEGIN
    FOR v_spec IN SELECT t.spec FROM pgstaging.staged_tables AS t ORDER BY t.registered_at, t.table_name LOOP
        PERFORM pgstaging.register_staged_table(v_spec);
    END LOOP;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.checked_spec(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.register_staged_table(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.check_statement(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.register_packaged_spec(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.regenerate_staged_tables() FROM PUBLIC;
