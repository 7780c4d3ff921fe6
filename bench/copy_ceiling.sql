-- The ingest ceiling (run.py): what COPY of the same rows costs with nothing
-- to check or index.
COPY bench.ingest_ceiling (workflow_run_id, actor_id, interaction_id, raw_data) FROM STDIN
