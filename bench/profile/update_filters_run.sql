-- Variant: the verdict UPDATE also filters its target by run, so the planner
-- can reach the run's rows by index instead of hashing every pending row
-- of the whole staging table.
UPDATE pgstaging.staged_tables
SET verdict_sql = replace(
    verdict_sql,
    'WHERE s.staging_id = v.staging_id AND',
    'WHERE s.staging_id = v.staging_id AND ($1 IS NULL OR s.workflow_run_id = $1) AND'
)
WHERE table_name = 'postings'
