SELECT
    h.table_name, h.pending_count, h.oldest_pending_age, h.judged_count, h.failed_count, h.failure_rate,
    h.failures_by_actor, h.failures_by_error, h.unknown_keys
FROM pgstaging.health() AS h
