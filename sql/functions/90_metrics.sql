-- Prometheus metrics: counters kept as calls happen (pgstaging.count_call,
-- from run_promotion and run_unpromotion), gauges read from the pending
-- index. See sql/tables/90_metrics.sql.

-- Upper bounds of the promotion duration histogram, in seconds.
CREATE OR REPLACE FUNCTION pgstaging.metric_buckets()
RETURNS double precision []
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
RETURN '{0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10,30,60,300}'::double precision [];

-- Failures of one call by field and error, as [{field, error, count}]: the
-- summary's own error_counts if it has them; else counted from its details
-- (the failed rows with their errors, the first 10,000 by staging_id) and,
-- past a capped list, from the rows in the call's scope after the last
-- listed one that this transaction judged failed.
CREATE OR REPLACE FUNCTION pgstaging.call_error_counts(
    p_spec pgstaging.staged_tables,
    p_workflow_run_id integer,
    p_summary jsonb,
    p_staging_ids bigint []
)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_listed jsonb := coalesce(p_summary -> 'details' -> 'failed', '[]');
    v_failed bigint := coalesce((p_summary ->> 'failed_count')::bigint, 0);
    v_rest jsonb := '[]';
BEGIN
    IF p_summary ? 'error_counts' THEN
        RETURN p_summary -> 'error_counts';
    END IF;
    IF v_failed = 0 THEN
        RETURN '[]';
    END IF;
    IF v_failed > jsonb_array_length(v_listed) THEN
        EXECUTE format(
            'SELECT coalesce(jsonb_agg(jsonb_build_object(''errors'', s.validation_errors)), ''[]'') FROM %s AS s'
            ' WHERE (s.workflow_run_id = $1 OR s.staging_id = ANY ($2)) AND s.staging_id > $3'
            ' AND s.outcome = ''failed'' AND s.validated_at = now() AND s.validated_by = session_user',
            p_spec.staging_table)
            INTO v_rest
            USING p_workflow_run_id, p_staging_ids,
                  coalesce((SELECT max((f.value ->> 'staging_id')::bigint) FROM jsonb_array_elements(v_listed) AS f (value)), 0);
    END IF;
    RETURN (
        SELECT coalesce(jsonb_agg(jsonb_build_object('field', e.field, 'error', e.error, 'count', e.n)), '[]')
        FROM (
            SELECT x.value ->> 'field' AS field, x.value ->> 'error' AS error, count(*) AS n
            FROM jsonb_array_elements(v_listed || v_rest) AS r (value)
            CROSS JOIN LATERAL jsonb_array_elements(r.value -> 'errors') AS x (value)
            GROUP BY 1, 2
        ) AS e
    );
END
$function$;

-- Count one logged call (the promotion-log row just written in this
-- session): append its deltas, then fold if nobody else is folding.
-- p_summary is what the call returns; p_staging_ids the batch's rows.
CREATE OR REPLACE FUNCTION pgstaging.count_call(p_summary jsonb, p_staging_ids bigint [] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_log pgstaging.promotion_log;
    v_spec pgstaging.staged_tables;
    v_errors jsonb := '[]';
    -- In a variable: currval() in the WHERE clause is volatile, so no index scan.
    v_log_id bigint := currval(pg_get_serial_sequence('pgstaging.promotion_log', 'log_id'));
BEGIN
    SELECT l.* INTO STRICT v_log FROM pgstaging.promotion_log AS l WHERE l.log_id = v_log_id;
    SELECT t.* INTO STRICT v_spec FROM pgstaging.staged_tables AS t WHERE t.table_name = v_log.table_name;
    IF v_log.action <> 'unpromote' THEN
        v_errors := pgstaging.call_error_counts(v_spec, v_log.workflow_run_id, p_summary, p_staging_ids);
    END IF;
    PERFORM pgstaging.add_call_deltas(v_log, v_spec, v_errors, coalesce(p_summary -> 'details' -> 'cascaded', '[]'));
    PERFORM pgstaging.fold_metrics();
END
$function$;

-- The deltas of one logged call. Label sets stay bounded: fields are the
-- spec's raw keys (anything else is "_other"), errors are cut to 100
-- characters (error codes and the spec's own rule errors).
CREATE OR REPLACE FUNCTION pgstaging.add_call_deltas(
    p_log pgstaging.promotion_log,
    p_spec pgstaging.staged_tables,
    p_errors jsonb,
    p_cascaded jsonb
)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    INSERT INTO pgstaging.metric_deltas (name, labels, value)
    SELECT d.name, d.labels, d.value
    FROM (
        SELECT 'pgstaging_promotions_total' AS name,
               jsonb_build_object('table', p_log.table_name, 'action', p_log.action) AS labels,
               1::double precision AS value
        UNION ALL
        SELECT 'pgstaging_staged_rows_total', jsonb_build_object('table', p_log.table_name, 'outcome', o.outcome), o.n
        FROM (VALUES ('promoted', p_log.promoted_count), ('duplicate', p_log.duplicate_count),
                     ('updated', p_log.updated_count), ('failed', p_log.failed_count),
                     ('rolled_back', p_log.rolled_back_count)) AS o (outcome, n)
        WHERE o.n <> 0
        -- Rows a cascade rolled back in dependent tables, at any depth.
        UNION ALL
        SELECT 'pgstaging_staged_rows_total', jsonb_build_object('table', c.value ->> 'table', 'outcome', 'rolled_back'),
               sum((c.value ->> 'rolled_back_count')::double precision)
        FROM jsonb_path_query(p_cascaded, 'strict $.**?(@.type() == "object" && exists(@.rolled_back_count))') AS c (value)
        GROUP BY c.value ->> 'table'
        HAVING sum((c.value ->> 'rolled_back_count')::double precision) <> 0
        UNION ALL
        SELECT 'pgstaging_promotion_duration_seconds_bucket',
               jsonb_build_object('table', p_log.table_name, 'le', b.le), 1
        FROM (
            SELECT u.bound::text AS le FROM unnest(pgstaging.metric_buckets()) AS u (bound)
            WHERE extract(EPOCH FROM p_log.duration) <= u.bound
            UNION ALL
            SELECT '+Inf'
        ) AS b
        WHERE p_log.action <> 'unpromote'
        UNION ALL
        SELECT 'pgstaging_promotion_duration_seconds_sum', jsonb_build_object('table', p_log.table_name),
               extract(EPOCH FROM p_log.duration)::double precision
        WHERE p_log.action <> 'unpromote'
        UNION ALL
        SELECT 'pgstaging_promotion_duration_seconds_count', jsonb_build_object('table', p_log.table_name), 1
        WHERE p_log.action <> 'unpromote'
        UNION ALL
        SELECT 'pgstaging_failed_rows_total', jsonb_build_object('table', p_log.table_name, 'field', e.field, 'error', e.error),
               sum(e.n)
        FROM (
            SELECT CASE WHEN x.field = ANY (p_spec.known_keys) OR x.field = 'raw_data'
                          OR x.field IN (SELECT r.value ->> 'field' FROM jsonb_array_elements(coalesce(p_spec.spec -> 'rules', '[]')) AS r (value))
                        THEN x.field ELSE '_other' END AS field,
                   left(x.error, 100) AS error,
                   x.count::double precision AS n
            FROM jsonb_to_recordset(p_errors) AS x (field text, error text, count bigint)
        ) AS e
        GROUP BY e.field, e.error
    ) AS d;
END
$function$;

-- Fold committed deltas into the totals, unless another session is folding
-- (SKIP LOCKED: never wait) or this transaction is not READ COMMITTED (a
-- snapshot older than another fold must not fold again). Returns how many.
CREATE OR REPLACE FUNCTION pgstaging.fold_metrics()
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_folded bigint;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RETURN 0::bigint;
    END IF;
    PERFORM 1 FROM pgstaging.metric_fold_lock AS l FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN 0::bigint;
    END IF;
    WITH gone AS (
        DELETE FROM pgstaging.metric_deltas AS d RETURNING d.name, d.labels, d.value
    ),
    folded AS (
        INSERT INTO pgstaging.metric_totals AS t (name, labels, value)
        SELECT g.name, g.labels, sum(g.value) FROM gone AS g GROUP BY g.name, g.labels
        ON CONFLICT (name, labels) DO UPDATE SET value = t.value + excluded.value
        RETURNING 1
    )
    SELECT count(*) INTO v_folded FROM folded;
    RETURN v_folded;
END
$function$;

-- Every alert counts (alerts are rare: a row trigger is cheap).
CREATE OR REPLACE FUNCTION pgstaging.count_alert()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    INSERT INTO pgstaging.metric_deltas (name, labels, value) VALUES ('pgstaging_alerts_total', '{}', 1);
    RETURN NULL;
END
$function$;

CREATE OR REPLACE TRIGGER count_alert AFTER INSERT ON pgstaging.alerts
FOR EACH ROW EXECUTE FUNCTION pgstaging.count_alert();

-- The metrics, as (name, labels, value): counters and the duration
-- histogram from the totals and unfolded deltas, per-table gauges from the
-- pending rows (the pending index), so a scrape costs the same at any
-- history. SECURITY INVOKER: readers see it through their own SELECTs.
CREATE OR REPLACE FUNCTION pgstaging.metrics()
RETURNS TABLE (name text, labels jsonb, value double precision)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_table pgstaging.staged_tables;
BEGIN
    RETURN QUERY
    SELECT c.name, c.labels, sum(c.value)
    FROM (
        SELECT t.name, t.labels, t.value FROM pgstaging.metric_totals AS t
        UNION ALL
        SELECT d.name, d.labels, d.value FROM pgstaging.metric_deltas AS d
        UNION ALL
        SELECT 'pgstaging_alerts_total', '{}'::jsonb, 0
    ) AS c
    GROUP BY c.name, c.labels
    ORDER BY c.name, c.labels;
    FOR v_table IN SELECT t.* FROM pgstaging.staged_tables AS t ORDER BY t.table_name LOOP
        -- OFFSET 0: read the pending rows, never walk created_at from the oldest.
        RETURN QUERY EXECUTE format(
            $sql$SELECT g.name, jsonb_build_object('table', %1$L), g.value
            FROM (SELECT count(*) AS n, min(p.created_at) AS oldest
                  FROM (SELECT s.created_at FROM %2$s AS s WHERE s.outcome IS NULL OFFSET 0) AS p) AS q
            CROSS JOIN LATERAL (VALUES
                ('pgstaging_pending_rows', q.n::double precision),
                ('pgstaging_oldest_pending_age_seconds',
                 coalesce(extract(EPOCH FROM now() - q.oldest)::double precision, 0))
            ) AS g (name, value)$sql$,
            v_table.table_name, v_table.staging_table);
    END LOOP;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.metric_buckets() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.call_error_counts(pgstaging.staged_tables, integer, jsonb, bigint []) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.count_call(jsonb, bigint []) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.add_call_deltas(pgstaging.promotion_log, pgstaging.staged_tables, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.fold_metrics() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.count_alert() FROM PUBLIC;

-- The first install counts the history already logged, once (the lock row
-- marks it done), so counters start from what happened, not from zero.
DO $seed$
BEGIN
    IF EXISTS (SELECT 1 FROM pgstaging.metric_fold_lock) THEN
        RETURN;
    END IF;
    INSERT INTO pgstaging.metric_totals (name, labels, value)
    SELECT d.name, d.labels, sum(d.value)
    FROM (
        SELECT 'pgstaging_promotions_total' AS name,
               jsonb_build_object('table', l.table_name, 'action', l.action) AS labels, 1::double precision AS value
        FROM pgstaging.promotion_log AS l
        UNION ALL
        SELECT 'pgstaging_staged_rows_total', jsonb_build_object('table', l.table_name, 'outcome', o.outcome), o.n
        FROM pgstaging.promotion_log AS l
        CROSS JOIN LATERAL (VALUES ('promoted', l.promoted_count), ('duplicate', l.duplicate_count),
                                   ('updated', l.updated_count), ('failed', l.failed_count),
                                   ('rolled_back', l.rolled_back_count)) AS o (outcome, n)
        WHERE o.n <> 0
        UNION ALL
        SELECT 'pgstaging_promotion_duration_seconds_bucket', jsonb_build_object('table', l.table_name, 'le', b.le), 1
        FROM pgstaging.promotion_log AS l
        CROSS JOIN LATERAL (
            SELECT u.bound::text AS le FROM unnest(pgstaging.metric_buckets()) AS u (bound)
            WHERE extract(EPOCH FROM l.duration) <= u.bound
            UNION ALL
            SELECT '+Inf'
        ) AS b
        WHERE l.action <> 'unpromote'
        UNION ALL
        SELECT 'pgstaging_promotion_duration_seconds_sum', jsonb_build_object('table', l.table_name),
               extract(EPOCH FROM l.duration)::double precision
        FROM pgstaging.promotion_log AS l WHERE l.action <> 'unpromote'
        UNION ALL
        SELECT 'pgstaging_promotion_duration_seconds_count', jsonb_build_object('table', l.table_name), 1
        FROM pgstaging.promotion_log AS l WHERE l.action <> 'unpromote'
        UNION ALL
        SELECT 'pgstaging_alerts_total', '{}'::jsonb, 1 FROM pgstaging.alerts
    ) AS d
    GROUP BY d.name, d.labels;
    INSERT INTO pgstaging.metric_fold_lock DEFAULT VALUES;
END
$seed$;

-- Readers (validators through membership) read the counters: grants.sql.
