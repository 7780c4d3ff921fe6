-- Alerts after a watermark, oldest first, less those already seen (ids
-- commit out of order: a lower id may become visible after a higher one).
SELECT a.alert_id, pg_catalog.to_jsonb(a.sent_at) #>> '{}' AS sent_at, a.payload
FROM pgstaging.alerts AS a
WHERE a.alert_id > %(after)s AND NOT a.alert_id = ANY(%(seen)s::bigint [])
ORDER BY a.alert_id
LIMIT %(limit)s
