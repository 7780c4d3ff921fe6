-- For the "right after staging" measurement only: no autovacuum (hence no
-- autoanalyze) on these two tables until autovacuum_reset.sql, so the
-- planner sees statistics from before the run was staged, every time, as a
-- validator that promotes right after its fetcher does.
ALTER TABLE postings_staging SET (autovacuum_enabled = false);
ALTER TABLE postings SET (autovacuum_enabled = false)
