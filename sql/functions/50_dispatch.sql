-- Generic entry points keyed by table name, for clients (the CLI) that take
-- a table name from the user. SECURITY INVOKER: the caller's own grants
-- decide, exactly as if it had called promote_<table>_staging directly.

-- The registry row of a staged table, or a clear 42P01 naming the known ones.
CREATE OR REPLACE FUNCTION pgstaging.staged_table(p_table text)
RETURNS pgstaging.staged_tables
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_row pgstaging.staged_tables;
BEGIN
    SELECT t.* INTO v_row FROM pgstaging.staged_tables AS t WHERE t.table_name = p_table;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pgstaging: unknown staged table "%"', p_table
            USING ERRCODE = '42P01',
                  HINT = (SELECT 'Known staged tables: ' || coalesce(string_agg(t.table_name, ', ' ORDER BY t.table_name), 'none')
                          FROM pgstaging.staged_tables AS t);
    END IF;
    RETURN v_row;
END
$function$;

CREATE OR REPLACE FUNCTION pgstaging.promote(p_table text, p_workflow_run_id integer)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_result jsonb;
BEGIN
    EXECUTE format('SELECT %s($1)', (pgstaging.staged_table(p_table)).promote_function::oid::regproc)
        INTO v_result
        USING p_workflow_run_id;
    RETURN v_result;
END
$function$;

COMMENT ON FUNCTION pgstaging.promote(text, integer) IS
'pgstaging: promote_<table>_staging(run_id) by table name; the caller needs EXECUTE on that function';
