-- This transaction's updates of staging, and how many were HOT.
SELECT t.n_tup_upd, t.n_tup_hot_upd
FROM pg_catalog.pg_stat_xact_user_tables AS t
WHERE t.relid = 'postings_staging'::regclass
