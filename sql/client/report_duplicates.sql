-- Duplicates of the run in {staging_table} (the first %(row_limit)s), each with
-- the production row of {production_table} it points at.
SELECT
    s.staging_id,
    s.promoted_to_id,
    s.raw_data,
    to_jsonb(p.*) AS production_row
FROM {staging_table} AS s
LEFT JOIN {production_table} AS p ON s.promoted_to_id = p.{id_column}
WHERE s.workflow_run_id = %(workflow_run_id)s AND s.outcome = 'duplicate'
ORDER BY s.staging_id
LIMIT %(row_limit)s
