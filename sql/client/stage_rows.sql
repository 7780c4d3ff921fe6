-- Stage one batch of JSON documents; {staging_table} is composed as an
-- identifier by the client. Returns the new staging ids. operation is
-- insert (new rows) or patch (changes of existing ones).
INSERT INTO {staging_table} (workflow_run_id, actor_id, interaction_id, raw_data, operation)
SELECT
    %(workflow_run_id)s AS workflow_run_id,
    %(actor_id)s AS actor_id,
    %(interaction_id)s AS interaction_id,
    d.document::jsonb AS raw_data,
    %(operation)s AS operation
FROM unnest(%(documents)s::text []) AS d (document)
RETURNING staging_id
