-- Between history steps (untimed): dead rows cleared, statistics fresh.
VACUUM (ANALYZE) postings_staging, postings, pgstaging.promotion_log
