-- Stage one batch of JSON documents; {staging_table} is composed as an
-- identifier by the client. Returns the new staging ids.
INSERT INTO {staging_table} (workflow_run_id, actor_id, interaction_id, raw_data)
SELECT %(workflow_run_id)s, %(actor_id)s, %(interaction_id)s, d.document::jsonb
FROM unnest(%(documents)s::text []) AS d (document)
RETURNING staging_id
