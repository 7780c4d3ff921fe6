-- Promotion-log history for the metrics scrape: rows as the engine writes
-- them (the metrics' counters are kept separately, as calls happen).
INSERT INTO pgstaging.promotion_log (
    table_name, workflow_run_id, action, rule_version, promoted_count, duplicate_count, failed_count,
    started_at, duration, called_by
)
SELECT 'postings', NULL, 'promote', 1, 850, 100, 50, now() - interval '3 days', interval '80 ms', 'validator_login'
FROM pg_catalog.generate_series(1, %(rows)s::bigint)
