-- The exact allow-list for one staged table, re-applied on every
-- registration: take back what pgstaging's roles and PUBLIC hold, then
-- grant column-level privileges only.
CREATE OR REPLACE FUNCTION pgstaging.grant_staged_table(p_table name)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_spec pgstaging.staged_tables;
    v_schema name;
    v_judged regclass;
    v_function text;
    v_script name := pgstaging.group_role('script');
    v_validator name := pgstaging.group_role('validator');
    v_reader name := pgstaging.group_role('reader');
    v_steward name := pgstaging.group_role('steward');
BEGIN
    v_spec := pgstaging.staged_table(p_table);
    SELECT n.nspname INTO v_schema FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.oid = v_spec.staging_table;
    v_judged := format('pgstaging.%I', p_table || '_staging_judged')::regclass;

    EXECUTE format('REVOKE ALL ON TABLE %s, %s, %s FROM %I, %I, %I, %I',
        v_spec.staging_table, v_spec.production_table, v_judged, v_script, v_validator, v_reader, v_steward);
    EXECUTE format('REVOKE ALL ON TABLE %s, %s FROM PUBLIC', v_spec.staging_table, v_judged);
    -- An adopted table keeps the grants it had, PUBLIC's included.
    IF NOT pgstaging.is_adopted(p_table) THEN
        EXECUTE format('REVOKE ALL ON TABLE %s FROM PUBLIC', v_spec.production_table);
    END IF;

    -- Scripts: add raw rows and read back their ids (INSERT ... RETURNING).
    EXECUTE format('GRANT INSERT (workflow_run_id, actor_id, interaction_id, raw_data, operation) ON %s TO %I',
        v_spec.staging_table, v_script);
    EXECUTE format('GRANT SELECT (staging_id) ON %s TO %I', v_spec.staging_table, v_script);

    -- Readers (and validators, who are readers): everything, column by column.
    PERFORM pgstaging.grant_select_all_columns(v_spec.staging_table, v_reader);
    PERFORM pgstaging.grant_select_all_columns(v_spec.production_table, v_reader);
    PERFORM pgstaging.grant_select_all_columns(v_judged, v_reader);
    IF to_regclass(format('pgstaging.%I', p_table || '_health')) IS NOT NULL THEN
        EXECUTE format('REVOKE ALL ON TABLE pgstaging.%I FROM PUBLIC', p_table || '_health');
        PERFORM pgstaging.grant_select_all_columns(format('pgstaging.%I', p_table || '_health')::regclass, v_reader);
    END IF;

    -- Validators: the table's entry points.
    FOREACH v_function IN ARRAY ARRAY[
        format('%I.%I(integer, boolean, bigint, boolean)', v_schema, 'promote_' || p_table || '_staging'),
        format('%I.%I(integer, bigint, boolean)', v_schema, 'retry_' || p_table || '_staging'),
        format('%I.%I(integer, text, boolean, bigint)', v_schema, 'unpromote_' || p_table || '_staging')
    ] LOOP
        IF to_regprocedure(v_function) IS NOT NULL THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', v_function, v_validator);
        END IF;
    END LOOP;

    -- hook(access): actors' column-level read rights on production.
    PERFORM pgstaging.apply_actor_reads(p_table);
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.grant_staged_table(name) FROM PUBLIC;
