-- Between measurements (untimed): clear dead rows and refresh statistics, so
-- no measurement pays for the previous one or races autovacuum.
VACUUM (ANALYZE) postings_staging, postings, bench_design.postings_staging, bench_design.postings
