-- Read-only reports for the CLI and dashboards. SECURITY INVOKER: they
-- show only what the caller may SELECT.

-- The ledger of one run, per staged table: every staged row is exactly one
-- of pending, promoted, duplicate, updated, failed, rolled back or
-- superseded (re-staged). Before 0.2.0 it had no superseded column: a
-- changed result type needs a DROP.
DO $drop$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_proc AS p
               WHERE p.oid = to_regprocedure('pgstaging.run_status(integer)') AND NOT 'superseded' = ANY (p.proargnames)) THEN
        DROP FUNCTION pgstaging.run_status(integer);
    END IF;
END
$drop$;

CREATE OR REPLACE FUNCTION pgstaging.run_status(p_workflow_run_id integer)
RETURNS TABLE (
    table_name name,
    staged bigint,
    pending bigint,
    promoted bigint,
    duplicate bigint,
    updated bigint,
    failed bigint,
    rolled_back bigint,
    superseded bigint
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_table pgstaging.staged_tables;
BEGIN
    -- One query per staged table (a handful), never per row.
    FOR v_table IN SELECT t.* FROM pgstaging.staged_tables AS t ORDER BY t.table_name LOOP
        RETURN QUERY EXECUTE format(
            $sql$SELECT %L::name, count(*), count(*) FILTER (WHERE s.outcome IS NULL),
                   count(*) FILTER (WHERE s.outcome = 'promoted'),
                   count(*) FILTER (WHERE s.outcome = 'duplicate'),
                   count(*) FILTER (WHERE s.outcome = 'updated'),
                   count(*) FILTER (WHERE s.outcome = 'failed'),
                   count(*) FILTER (WHERE s.outcome = 'rolled_back'),
                   count(*) FILTER (WHERE s.outcome = 'superseded')
            FROM %s AS s WHERE s.workflow_run_id = $1$sql$,
            v_table.table_name, v_table.staging_table
        ) USING p_workflow_run_id;
    END LOOP;
END
$function$;

-- Failed rows of one run with their per-field reasons and the raw data.
CREATE OR REPLACE FUNCTION pgstaging.run_failures(p_table text, p_workflow_run_id integer)
RETURNS TABLE (
    staging_id bigint,
    actor_id integer,
    inserted_by name,
    created_at timestamptz,
    validation_errors jsonb,
    raw_data jsonb
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    RETURN QUERY EXECUTE format(
        $sql$SELECT s.staging_id, s.actor_id, s.inserted_by, s.created_at, s.validation_errors, s.raw_data
        FROM %s AS s
        WHERE s.workflow_run_id = $1 AND s.outcome = 'failed'
        ORDER BY s.staging_id$sql$,
        (pgstaging.staged_table(p_table)).staging_table
    ) USING p_workflow_run_id;
END
$function$;

-- Whether a run exists; lets clients tell "unknown run" from "nothing to do".
CREATE OR REPLACE FUNCTION pgstaging.run_exists(p_workflow_run_id integer)
RETURNS boolean
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path FROM CURRENT
RETURN EXISTS (SELECT 1 FROM workflow_runs AS w WHERE w.workflow_run_id = p_workflow_run_id);

REVOKE ALL ON FUNCTION pgstaging.run_exists(integer) FROM PUBLIC;

-- Health of every staged table (or one): rows of the pgstaging.{table}_health views.
CREATE OR REPLACE FUNCTION pgstaging.health(p_table text DEFAULT NULL)
RETURNS TABLE (
    table_name name,
    pending_count bigint,
    oldest_pending_age interval,
    judged_count bigint,
    failed_count bigint,
    failure_rate numeric,
    failures_by_actor jsonb,
    failures_by_error jsonb,
    unknown_keys jsonb
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_table name;
BEGIN
    IF p_table IS NOT NULL THEN
        PERFORM pgstaging.staged_table(p_table);  -- a clear error for an unknown table
    END IF;
    FOR v_table IN
        SELECT t.table_name FROM pgstaging.staged_tables AS t
        WHERE p_table IS NULL OR t.table_name = p_table ORDER BY t.table_name
    LOOP
        RETURN QUERY EXECUTE format('SELECT h.* FROM pgstaging.%I AS h', v_table || '_health');
    END LOOP;
END
$function$;
