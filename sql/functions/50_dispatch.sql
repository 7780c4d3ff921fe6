DROP FUNCTION IF EXISTS pgstaging.promote(text, integer);

-- Generic entry points keyed by table name, for clients (the CLI) that take
-- a table name from the user. SECURITY INVOKER: the caller's own grants
-- decide, exactly as if it had called the table's function directly.

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

-- The table's function of that kind (promote, retry, unpromote), qualified.
CREATE OR REPLACE FUNCTION pgstaging.staged_function(p_table text, p_kind text)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
RETURN (
    SELECT format('%I.%I', n.nspname, p_kind || '_' || t.table_name || '_staging')
    FROM pg_catalog.pg_class AS c
    INNER JOIN pg_catalog.pg_namespace AS n ON c.relnamespace = n.oid
    CROSS JOIN LATERAL pgstaging.staged_table(p_table) AS t
    WHERE c.oid = t.staging_table
);

CREATE OR REPLACE FUNCTION pgstaging.promote(p_table text, p_workflow_run_id integer, p_dry_run boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_result jsonb;
BEGIN
    EXECUTE format('SELECT %s($1, $2)', pgstaging.staged_function(p_table, 'promote'))
        INTO v_result USING p_workflow_run_id, p_dry_run;
    RETURN v_result;
END
$function$;

CREATE OR REPLACE FUNCTION pgstaging.retry(p_table text, p_workflow_run_id integer)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_result jsonb;
BEGIN
    EXECUTE format('SELECT %s($1)', pgstaging.staged_function(p_table, 'retry'))
        INTO v_result USING p_workflow_run_id;
    RETURN v_result;
END
$function$;

CREATE OR REPLACE FUNCTION pgstaging.unpromote(
    p_table text, p_workflow_run_id integer, p_reason text DEFAULT NULL, p_cascade boolean DEFAULT false
)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_result jsonb;
BEGIN
    EXECUTE format('SELECT %s($1, $2, $3)', pgstaging.staged_function(p_table, 'unpromote'))
        INTO v_result USING p_workflow_run_id, p_reason, p_cascade;
    RETURN v_result;
END
$function$;

-- Re-stage a corrected row: a new staged row in the same run, pointing at
-- the one it supersedes, which stays as it was. Owner only (not granted).
-- The owner and the steward group role (data stewards fix failed rows):
-- SECURITY DEFINER, so the new row is written as the owner; session_user
-- is the real caller.
CREATE OR REPLACE FUNCTION pgstaging.restage(p_table text, p_staging_id bigint, p_raw_data jsonb)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_new_id bigint;
BEGIN
    IF NOT (pg_catalog.pg_has_role(session_user, pgstaging.group_role('steward'), 'MEMBER')
            OR pg_catalog.pg_has_role(session_user, current_user, 'MEMBER')) THEN
        RAISE EXCEPTION 'pgstaging: permission denied to restage %', p_table
            USING ERRCODE = '42501',
                  DETAIL = pg_catalog.format('%s is neither the owner nor a steward.', session_user),
                  HINT = pg_catalog.format('Grant %I to this login.', pgstaging.group_role('steward'));
    END IF;
    EXECUTE format(
        'INSERT INTO %1$s (workflow_run_id, actor_id, interaction_id, raw_data, supersedes_staging_id)'
        ' SELECT s.workflow_run_id, s.actor_id, s.interaction_id, $2, s.staging_id FROM %1$s AS s'
        ' WHERE s.staging_id = $1 RETURNING staging_id',
        (pgstaging.staged_table(p_table)).staging_table)
        INTO v_new_id USING p_staging_id, p_raw_data;
    IF v_new_id IS NULL THEN
        RAISE EXCEPTION 'pgstaging: no staged % row %', p_table, p_staging_id USING ERRCODE = 'P0002';
    END IF;
    RETURN v_new_id;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.restage(text, bigint, jsonb) FROM PUBLIC;

COMMENT ON FUNCTION pgstaging.promote(text, integer, boolean) IS
'pgstaging: promote_<table>_staging(run_id, dry_run) by table name; the caller needs EXECUTE on that function';
