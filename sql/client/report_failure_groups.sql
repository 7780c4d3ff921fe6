-- Failures of the run in {staging_table} by field and error: how many rows,
-- and the first %(row_limit)s of them with their raw data and all their errors.
SELECT
    e.field,
    e.error,
    count(*) AS row_count,
    (array_agg(jsonb_build_object('staging_id', s.staging_id, 'actor_id', s.actor_id,
                                  'errors', s.validation_errors, 'raw_data', s.raw_data)
               ORDER BY s.staging_id))[1:%(row_limit)s] AS rows
FROM {staging_table} AS s
CROSS JOIN LATERAL (
    SELECT DISTINCT x.value ->> 'field' AS field, x.value ->> 'error' AS error
    FROM jsonb_array_elements(s.validation_errors) AS x (value)
) AS e
WHERE s.workflow_run_id = %(workflow_run_id)s AND s.outcome = 'failed'
GROUP BY e.field, e.error
ORDER BY row_count DESC, e.field ASC, e.error ASC
