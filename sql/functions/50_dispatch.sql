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

-- Signatures before 0.2.0, replaced by the ones below (a call with their
-- arguments would be ambiguous while both exist).
DO $drop$
DECLARE
    v_old text;
BEGIN
    FOREACH v_old IN ARRAY ARRAY['pgstaging.promote(text, integer, boolean)', 'pgstaging.retry(text, integer)',
                                 'pgstaging.unpromote(text, integer, text, boolean)'] LOOP
        IF to_regprocedure(v_old) IS NOT NULL THEN
            EXECUTE 'DROP FUNCTION ' || v_old;
        END IF;
    END LOOP;
END
$drop$;

-- Call a table's entry point (promote, retry, unpromote) with named
-- arguments, each cast to that function's own parameter type.
CREATE OR REPLACE FUNCTION pgstaging.call_staged(p_table text, p_kind text, p_arguments jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_function text := pgstaging.staged_function(p_table, p_kind);
    v_arguments text;
    v_result jsonb;
BEGIN
    SELECT string_agg(format('%I => ($1 ->> %L)::%s', a.name, a.name, format_type(a.type, NULL)), ', ' ORDER BY a.n)
    INTO v_arguments
    FROM pg_catalog.pg_proc AS p
    CROSS JOIN LATERAL unnest(p.proargnames, p.proargtypes::oid []) WITH ORDINALITY AS a (name, type, n)
    WHERE p.oid = to_regproc(v_function)::oid AND p_arguments ? a.name;
    EXECUTE format('SELECT %s(%s)', v_function, v_arguments) INTO v_result USING p_arguments;
    RETURN v_result;
END
$function$;

CREATE OR REPLACE FUNCTION pgstaging.promote(
    p_table text,
    p_workflow_run_id integer,
    p_dry_run boolean DEFAULT false,
    p_interaction_id bigint DEFAULT NULL,
    p_ignore_gate boolean DEFAULT false
)
RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN pgstaging.call_staged(p_table, 'promote', pg_catalog.jsonb_build_object(
    'p_workflow_run_id', p_workflow_run_id, 'p_dry_run', p_dry_run, 'p_interaction_id', p_interaction_id,
    'p_ignore_gate', p_ignore_gate));

CREATE OR REPLACE FUNCTION pgstaging.retry(
    p_table text,
    p_workflow_run_id integer,
    p_interaction_id bigint DEFAULT NULL,
    p_ignore_gate boolean DEFAULT false
)
RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN pgstaging.call_staged(p_table, 'retry', pg_catalog.jsonb_build_object(
    'p_workflow_run_id', p_workflow_run_id, 'p_interaction_id', p_interaction_id, 'p_ignore_gate', p_ignore_gate));

CREATE OR REPLACE FUNCTION pgstaging.unpromote(
    p_table text,
    p_workflow_run_id integer,
    p_reason text DEFAULT NULL,
    p_cascade boolean DEFAULT false,
    p_interaction_id bigint DEFAULT NULL
)
RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN pgstaging.call_staged(p_table, 'unpromote', pg_catalog.jsonb_build_object(
    'p_workflow_run_id', p_workflow_run_id, 'p_reason', p_reason, 'p_cascade', p_cascade,
    'p_interaction_id', p_interaction_id));

-- Re-stage a corrected row: a new staged row in the same run, pointing at
-- the one it supersedes, which keeps its data and becomes superseded.
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
    v_staging regclass := (pgstaging.staged_table(p_table)).staging_table;
    v_outcome text;
    v_found boolean;
    v_new_id bigint;
    v_writer text := current_setting('pgstaging.writer', true);
BEGIN
    IF NOT (pg_catalog.pg_has_role(session_user, pgstaging.group_role('steward'), 'MEMBER')
            OR pg_catalog.pg_has_role(session_user, current_user, 'MEMBER')) THEN
        RAISE EXCEPTION 'pgstaging: permission denied to restage %', p_table
            USING ERRCODE = '42501',
                  DETAIL = pg_catalog.format('%s is neither the owner nor a steward.', session_user),
                  HINT = pg_catalog.format('Grant %I to this login.', pgstaging.group_role('steward'));
    END IF;
    EXECUTE format('SELECT true, s.outcome FROM %s AS s WHERE s.staging_id = $1 FOR UPDATE', v_staging)
        INTO v_found, v_outcome USING p_staging_id;
    IF v_found IS NULL THEN
        RAISE EXCEPTION 'pgstaging: no staged % row %', p_table, p_staging_id USING ERRCODE = 'P0002';
    END IF;
    -- A row whose verdict stands (promoted, duplicate, updated) is not
    -- replaced: unpromote its run first.
    IF v_outcome IS NOT NULL AND v_outcome NOT IN ('failed', 'rolled_back') THEN
        RAISE EXCEPTION 'pgstaging: staged % row % is %; only pending, failed or rolled back rows can be re-staged',
            p_table, p_staging_id, v_outcome
            USING ERRCODE = '55000', HINT = 'Unpromote its run first to re-stage a promoted row.';
    END IF;
    EXECUTE format(
        'INSERT INTO %1$s (workflow_run_id, actor_id, interaction_id, raw_data, supersedes_staging_id, operation)'
        ' SELECT s.workflow_run_id, s.actor_id, s.interaction_id, $2, s.staging_id, s.operation FROM %1$s AS s'
        ' WHERE s.staging_id = $1 RETURNING staging_id',
        v_staging)
        INTO v_new_id USING p_staging_id, p_raw_data;
    -- The original is no longer an open failure: superseded, kept as it was.
    PERFORM set_config('pgstaging.writer', 'on', true);
    EXECUTE format('UPDATE %s AS s SET outcome = ''superseded'', promoted = false WHERE s.staging_id = $1', v_staging)
        USING p_staging_id;
    PERFORM set_config('pgstaging.writer', coalesce(v_writer, ''), true);
    RETURN v_new_id;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.restage(text, bigint, jsonb) FROM PUBLIC;

COMMENT ON FUNCTION pgstaging.promote(text, integer, boolean, bigint, boolean) IS
'pgstaging: promote_<table>_staging(run_id, ...) by table name; the caller needs EXECUTE on that function';
