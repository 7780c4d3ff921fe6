-- The health indexes back on postings staging (as registration makes them).
SELECT pgstaging.ensure_health_indexes('postings_staging'::regclass)
