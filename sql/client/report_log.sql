-- The run's promotion log (all tables, or %(table)s), oldest first.
SELECT
    l.log_id, l.table_name, l.action, l.called_by, l.rule_version, l.promoted_count, l.duplicate_count,
    l.updated_count, l.failed_count, l.rolled_back_count, l.reason, l.started_at,
    extract(EPOCH FROM l.duration)::double precision AS seconds
FROM pgstaging.promotion_log AS l
WHERE l.workflow_run_id = %(workflow_run_id)s AND (%(table)s::text IS NULL OR l.table_name = %(table)s::text)
ORDER BY l.log_id
