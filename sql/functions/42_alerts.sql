-- Raise an alert: kept in pgstaging.alerts, and sent on staging_alerts
-- when the caller commits. The NOTIFY payload carries the alert_id, so a
-- listener can read the whole row (a payload over 7,900 bytes is cut to
-- the id and the action).
CREATE OR REPLACE FUNCTION pgstaging.raise_alert(p_payload jsonb)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_alert_id bigint;
    v_message text;
BEGIN
    INSERT INTO pgstaging.alerts (payload) VALUES (p_payload) RETURNING alert_id INTO v_alert_id;
    v_message := (jsonb_build_object('alert_id', v_alert_id) || p_payload)::text;
    IF octet_length(v_message) > 7900 THEN
        v_message := jsonb_build_object('alert_id', v_alert_id, 'action', p_payload -> 'action',
                                        'table', p_payload -> 'table', 'truncated', true)::text;
    END IF;
    PERFORM pg_notify('staging_alerts', v_message);
    RETURN v_alert_id;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.raise_alert(jsonb) FROM PUBLIC;

-- Log a promote, retry or batch call, and alert on failures: one log row and
-- at most one alert per run. In batch mode (p_workflow_run_id NULL) the
-- per-run counts come from the verdicts of the batch's staging ids, in one
-- grouped query. The alert carries the summary's status and gate when it
-- has them, so a gate that held a run back alerts too.
CREATE OR REPLACE FUNCTION pgstaging.log_promotion(
    p_spec pgstaging.staged_tables,
    p_workflow_run_id integer,
    p_action text,
    p_result jsonb,
    p_started timestamptz,
    p_staging_ids bigint [],
    p_interaction_id bigint
)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_runs jsonb;
BEGIN
    IF p_workflow_run_id IS NOT NULL THEN
        v_runs := jsonb_build_array(jsonb_build_object(
            'workflow_run_id', p_workflow_run_id,
            'promoted_count', coalesce((p_result ->> 'promoted_count')::bigint, 0),
            'duplicate_count', coalesce((p_result ->> 'duplicate_count')::bigint, 0),
            'updated_count', coalesce((p_result ->> 'updated_count')::bigint, 0),
            'failed_count', coalesce((p_result ->> 'failed_count')::bigint, 0)));
    ELSE
        EXECUTE format(
            'SELECT coalesce(jsonb_agg(jsonb_build_object(''workflow_run_id'', q.run, ''promoted_count'', q.promoted,'
            ' ''duplicate_count'', q.duplicate, ''updated_count'', q.updated, ''failed_count'', q.failed) ORDER BY q.run), ''[]'')'
            ' FROM (SELECT s.workflow_run_id AS run,'
            '   count(*) FILTER (WHERE s.outcome = ''promoted'') AS promoted,'
            '   count(*) FILTER (WHERE s.outcome = ''duplicate'') AS duplicate,'
            '   count(*) FILTER (WHERE s.outcome = ''updated'') AS updated,'
            '   count(*) FILTER (WHERE s.outcome = ''failed'') AS failed'
            '  FROM %s AS s WHERE s.staging_id = ANY ($1) GROUP BY s.workflow_run_id) AS q',
            p_spec.staging_table)
            INTO v_runs USING p_staging_ids;
    END IF;

    INSERT INTO pgstaging.promotion_log (
        table_name, workflow_run_id, action, rule_version, interaction_id,
        promoted_count, duplicate_count, updated_count, failed_count, started_at, duration, gate
    )
    SELECT p_spec.table_name, r.workflow_run_id, p_action, p_spec.rule_version, p_interaction_id,
           r.promoted_count, r.duplicate_count, r.updated_count, r.failed_count,
           p_started, clock_timestamp() - p_started, p_result -> 'gate'
    FROM jsonb_to_recordset(v_runs) AS r (
        workflow_run_id integer, promoted_count bigint, duplicate_count bigint, updated_count bigint, failed_count bigint
    )
    ORDER BY r.workflow_run_id;

    -- Listeners hear of failures (and of a run held back) when the caller commits.
    PERFORM pgstaging.raise_alert(jsonb_build_object(
        'table', p_spec.table_name, 'workflow_run_id', r.workflow_run_id, 'action', p_action,
        'rule_version', p_spec.rule_version, 'called_by', session_user, 'interaction_id', p_interaction_id,
        'promoted_count', r.promoted_count, 'duplicate_count', r.duplicate_count,
        'updated_count', r.updated_count, 'failed_count', r.failed_count
    ) || CASE WHEN p_workflow_run_id IS NULL THEN '{}'::jsonb
              ELSE jsonb_strip_nulls(jsonb_build_object('status', p_result -> 'status', 'gate', p_result -> 'gate',
                                                        'held_count', p_result -> 'held_count')) END)
    FROM jsonb_to_recordset(v_runs) AS r (
        workflow_run_id integer, promoted_count bigint, duplicate_count bigint, updated_count bigint, failed_count bigint
    )
    WHERE r.failed_count > 0 OR (p_workflow_run_id IS NOT NULL AND (p_result ? 'gate' OR p_result ->> 'status' = 'FAILED'))
    ORDER BY r.workflow_run_id;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.log_promotion(pgstaging.staged_tables, integer, text, jsonb, timestamptz, bigint [], bigint) FROM PUBLIC;
