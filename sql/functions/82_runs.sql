-- Runs: start, register, end, fail. State lives in pgstaging.runs; the
-- engine's workflow_runs gets a row only where pgstaging created that table
-- (pgstaging.engine_tables). Callers: the owner, the validator group, and
-- actors with the `start` right whose login is in the script group.

-- Refuse (42501) a caller who may not start or end runs. session_user is
-- the real caller (the callers are SECURITY DEFINER).
CREATE OR REPLACE FUNCTION pgstaging.check_run_starter(p_what text)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_validator name := pgstaging.group_role('validator');
    v_script name := pgstaging.group_role('script');
BEGIN
    -- The owner (current_user: the definer) and the validator group.
    IF pg_catalog.pg_has_role(session_user, current_user, 'MEMBER')
       OR (pg_catalog.to_regrole(v_validator) IS NOT NULL AND pg_catalog.pg_has_role(session_user, v_validator, 'MEMBER')) THEN
        RETURN;
    END IF;
    -- An actor with the `start` right, whose login is in the script group.
    IF NOT coalesce(pgstaging.login_may_start_runs(session_user), false) THEN
        RAISE EXCEPTION 'pgstaging: permission denied to % runs', p_what
            USING ERRCODE = '42501',
                  DETAIL = pg_catalog.format('Login %s is not the owner, not in %s, and none of its actors has the start right.',
                                             session_user, v_validator),
                  HINT = pg_catalog.format('The owner can grant it: SELECT pgstaging.allow_actor(actor, NULL, ''start'') for an actor bound to %s (in %s), or GRANT %s TO %s.',
                                           session_user, v_script, v_validator, session_user);
    END IF;
END
$function$;

-- The engine's workflow_runs, and whether pgstaging created it.
CREATE OR REPLACE FUNCTION pgstaging.workflow_runs_table()
RETURNS pgstaging.engine_tables
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT e.* FROM pgstaging.engine_tables AS e WHERE e.table_name = 'workflow_runs'
$function$;

-- Start a new run: a workflow_runs row (only where pgstaging created that
-- table) and its pgstaging.runs row, status running. Returns its id.
CREATE OR REPLACE FUNCTION pgstaging.start_run(p_workflow_id integer DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_table pgstaging.engine_tables := pgstaging.workflow_runs_table();
    v_run integer;
BEGIN
    PERFORM pgstaging.check_run_starter('start');
    IF NOT coalesce(v_table.created_by_pgstaging, false) THEN
        RAISE EXCEPTION 'pgstaging: workflow_runs belongs to the workflow engine; pgstaging does not add rows to it'
            USING ERRCODE = '55000',
                  DETAIL = pg_catalog.format('%s was not created by pgstaging.', coalesce(v_table.relation::text, 'workflow_runs')),
                  HINT = 'Let the engine create the run, then register it: SELECT pgstaging.start_run(p_workflow_run_id => N, p_workflow_id => W).';
    END IF;
    EXECUTE pg_catalog.format('INSERT INTO %s DEFAULT VALUES RETURNING workflow_run_id', v_table.relation) INTO v_run;
    INSERT INTO pgstaging.runs (workflow_run_id, workflow_id, started_by) VALUES (v_run, p_workflow_id, session_user);
    RETURN v_run;
END
$function$;

-- Register a run the engine already made. Idempotent: registering it again
-- with the same workflow_id returns it unchanged.
CREATE OR REPLACE FUNCTION pgstaging.start_run(p_workflow_run_id integer, p_workflow_id integer)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_exists boolean;
    v_known pgstaging.runs;
BEGIN
    PERFORM pgstaging.check_run_starter('start');
    IF p_workflow_run_id IS NULL THEN
        RAISE EXCEPTION 'pgstaging: workflow_run_id must not be NULL' USING ERRCODE = '22004';
    END IF;
    EXECUTE pg_catalog.format('SELECT EXISTS (SELECT 1 FROM %s AS w WHERE w.workflow_run_id = $1)',
                              (pgstaging.workflow_runs_table()).relation)
        INTO v_exists USING p_workflow_run_id;
    IF NOT v_exists THEN
        RAISE EXCEPTION 'pgstaging: unknown workflow run %', p_workflow_run_id
            USING ERRCODE = '23503', CONSTRAINT = 'runs_workflow_run_id_fkey',
                  HINT = 'The workflow engine creates the workflow_runs row first; pgstaging.start_run(p_workflow_id) creates one only where pgstaging created workflow_runs.';
    END IF;
    INSERT INTO pgstaging.runs (workflow_run_id, workflow_id, started_by)
    VALUES (p_workflow_run_id, p_workflow_id, session_user)
    ON CONFLICT (workflow_run_id) DO NOTHING;
    IF NOT FOUND THEN
        SELECT r.* INTO v_known FROM pgstaging.runs AS r WHERE r.workflow_run_id = p_workflow_run_id;
        IF v_known.workflow_id IS DISTINCT FROM p_workflow_id THEN
            RAISE EXCEPTION 'pgstaging: run % is already registered, for workflow %', p_workflow_run_id, coalesce(v_known.workflow_id::text, 'NULL')
                USING ERRCODE = '55000', HINT = 'A run belongs to one workflow; register the run with the same workflow_id, or start a new run.';
        END IF;
    END IF;
    RETURN p_workflow_run_id;
END
$function$;

-- End a run: succeeded or failed. Ending it again with the same status
-- changes nothing; an ended run never changes status (55000).
CREATE OR REPLACE FUNCTION pgstaging.end_run(p_run integer, p_status text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_run pgstaging.runs;
BEGIN
    PERFORM pgstaging.check_run_starter('end');
    IF p_run IS NULL THEN
        RAISE EXCEPTION 'pgstaging: workflow_run_id must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF p_status IS NULL OR p_status NOT IN ('succeeded', 'failed') THEN
        RAISE EXCEPTION 'pgstaging: a run ends as succeeded or failed, not %', coalesce(p_status, 'NULL')
            USING ERRCODE = '22023', HINT = 'Pass p_status => ''succeeded'' or ''failed''.';
    END IF;
    -- A run the engine made and nobody registered: register it now.
    IF NOT EXISTS (SELECT 1 FROM pgstaging.runs AS r WHERE r.workflow_run_id = p_run) THEN
        PERFORM pgstaging.start_run(p_run, NULL);
    END IF;
    SELECT r.* INTO STRICT v_run FROM pgstaging.runs AS r WHERE r.workflow_run_id = p_run FOR UPDATE;
    IF v_run.status = 'running' THEN
        UPDATE pgstaging.runs AS r SET status = p_status, ended_at = now(), ended_by = session_user
        WHERE r.workflow_run_id = p_run
        RETURNING r.* INTO v_run;
    ELSIF v_run.status <> p_status THEN
        RAISE EXCEPTION 'pgstaging: run % already ended as %; it cannot become %', p_run, v_run.status, p_status
            USING ERRCODE = '55000',
                  DETAIL = pg_catalog.format('Ended at %s by %s.', v_run.ended_at, coalesce(v_run.ended_by::text, 'pgstaging')),
                  HINT = 'An ended run keeps its status; start a new run to try again.';
    END IF;
    RETURN jsonb_build_object('workflow_run_id', v_run.workflow_run_id, 'workflow_id', v_run.workflow_id,
                              'status', v_run.status, 'started_at', v_run.started_at, 'ended_at', v_run.ended_at);
END
$function$;

-- Fail a run (owner only: pgstaging's gates call it). Upserts the runs row;
-- the first failure's reason is kept. A run that ended succeeded becomes
-- failed: the data says so.
CREATE OR REPLACE FUNCTION pgstaging.mark_run_failed(p_run integer, p_reason jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF p_run IS NULL THEN
        RAISE EXCEPTION 'pgstaging: workflow_run_id must not be NULL' USING ERRCODE = '22004';
    END IF;
    INSERT INTO pgstaging.runs AS r (workflow_run_id, status, ended_at, started_by, ended_by, failure_reason)
    VALUES (p_run, 'failed', now(), NULL, session_user, p_reason)
    ON CONFLICT (workflow_run_id) DO UPDATE
    SET status = 'failed',
        ended_at = coalesce(r.ended_at, excluded.ended_at),
        ended_by = CASE WHEN r.status = 'failed' THEN r.ended_by ELSE excluded.ended_by END,
        failure_reason = coalesce(r.failure_reason, excluded.failure_reason);
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.check_run_starter(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.workflow_runs_table() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.start_run(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.start_run(integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.end_run(integer, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.mark_run_failed(integer, jsonb) FROM PUBLIC;

-- Who may call: the script and validator groups (the function decides who
-- of them may); readers and PUBLIC may not.
DO $grants$
DECLARE
    v_role name;
BEGIN
    FOREACH v_role IN ARRAY ARRAY[pgstaging.group_role('script'), pgstaging.group_role('validator')] LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION pgstaging.start_run(integer), pgstaging.start_run(integer, integer),'
                                  ' pgstaging.end_run(integer, text) TO %I', v_role);
    END LOOP;
END
$grants$;
