-- pgstaging.{table}_health: one row per staged table for dashboards and
-- `pgstaging status`: the backlog, the last day's failures by actor and by
-- field and error, and raw_data keys that no rule reads (schema drift).
-- Each part reads the pending rows or the last day's rows through an index
-- (the pending index, and pgstaging.ensure_health_indexes), so its cost
-- follows the backlog and the last day's volume, not the history.
CREATE OR REPLACE FUNCTION pgstaging.create_health_view(p_table name)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_spec pgstaging.staged_tables;
BEGIN
    SELECT t.* INTO STRICT v_spec FROM pgstaging.staged_tables AS t WHERE t.table_name = p_table;
    EXECUTE format($sql$
        CREATE OR REPLACE VIEW pgstaging.%1$I AS
        SELECT
            %2$L::name AS table_name,
            (SELECT count(*) FROM %3$s AS s WHERE s.outcome IS NULL) AS pending_count,
            -- OFFSET 0: read the pending rows (pending index), never walk created_at from the oldest.
            (SELECT now() - min(p.created_at)
             FROM (SELECT s.created_at FROM %3$s AS s WHERE s.outcome IS NULL OFFSET 0) AS p) AS oldest_pending_age,
            day.judged_count,
            day.failed_count,
            round(day.failed_count::numeric / nullif(day.judged_count, 0), 4) AS failure_rate,
            (SELECT coalesce(jsonb_agg(jsonb_build_object('actor_id', a.actor_id, 'judged', a.judged, 'failed', a.failed,
                                                          'failure_rate', round(a.failed::numeric / a.judged, 4))
                                       ORDER BY a.failed DESC, a.actor_id), '[]')
             FROM (SELECT s.actor_id, count(*) AS judged, count(*) FILTER (WHERE s.outcome = 'failed') AS failed
                   FROM %3$s AS s WHERE s.validated_at > now() - interval '1 day' GROUP BY s.actor_id) AS a
            ) AS failures_by_actor,
            (SELECT coalesce(jsonb_agg(jsonb_build_object('field', e.field, 'error', e.error, 'count', e.n)
                                       ORDER BY e.n DESC, e.field, e.error), '[]')
             FROM (SELECT x.value ->> 'field' AS field, x.value ->> 'error' AS error, count(*) AS n
                   FROM %3$s AS s CROSS JOIN LATERAL jsonb_array_elements(s.validation_errors) AS x (value)
                   WHERE s.outcome = 'failed' AND s.validated_at > now() - interval '1 day'
                   GROUP BY 1, 2) AS e
            ) AS failures_by_error,
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', k.key, 'rows', k.n) ORDER BY k.n DESC, k.key), '[]')
             FROM (SELECT j.key, count(*) AS n
                   FROM %3$s AS s CROSS JOIN LATERAL jsonb_object_keys(
                       CASE WHEN jsonb_typeof(s.raw_data) = 'object' THEN s.raw_data ELSE '{}' END) AS j (key)
                   WHERE s.created_at > now() - interval '1 day' AND NOT j.key = ANY (%4$L::text[])
                   GROUP BY 1) AS k
            ) AS unknown_keys
        FROM (
            SELECT count(*) AS judged_count, count(*) FILTER (WHERE s.outcome = 'failed') AS failed_count
            FROM %3$s AS s WHERE s.validated_at > now() - interval '1 day'
        ) AS day$sql$,
        p_table || '_health', p_table, pgstaging.qualified_name(v_spec.staging_table), v_spec.known_keys);
    EXECUTE format('COMMENT ON VIEW pgstaging.%I IS %L', p_table || '_health',
        format('pgstaging: health of %s staging: backlog, failures over the last day, unknown raw_data keys', p_table));
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.create_health_view(name) FROM PUBLIC;
