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
