-- Stage one batch of JSON documents; {staging_table} is composed as an
-- identifier by the client. Returns the new staging ids.
INSERT INTO {staging_table} (workflow_run_id, actor_id, interaction_id, raw_data)
SELECT
    %(workflow_run_id)s AS workflow_run_id,
    %(actor_id)s AS actor_id,
    %(interaction_id)s AS interaction_id,
    d.document::jsonb AS raw_data
FROM unnest(%(documents)s::text []) AS d (document)
RETURNING staging_id
