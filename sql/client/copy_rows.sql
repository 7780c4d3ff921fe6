-- Stage many JSON documents by COPY (no ids come back); {staging_table} is
-- composed as an identifier by the client.
COPY {staging_table} (workflow_run_id, actor_id, interaction_id, raw_data) FROM STDIN
