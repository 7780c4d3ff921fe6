-- The run's alerts (all tables, or %(table)s), oldest first.
SELECT a.alert_id, a.sent_at, a.payload
FROM pgstaging.alerts AS a
WHERE a.payload ->> 'workflow_run_id' = %(workflow_run_id)s::text
  AND (%(table)s::text IS NULL OR a.payload ->> 'table' = %(table)s::text)
ORDER BY a.alert_id
