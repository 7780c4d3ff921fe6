SELECT h.table_name, h.pending_count, h.judged_count, h.failed_count, h.failures_by_error, h.unknown_keys
FROM pgstaging.health() AS h
ORDER BY h.table_name
