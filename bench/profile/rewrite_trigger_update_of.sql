-- Variant: the same guard as a column-specific trigger. It fires only for
-- UPDATEs that name one of these columns in SET (the promotion names none),
-- so the promotion skips the per-row WHEN; the columns stay immutable for
-- every UPDATE that tries to set them.
CREATE OR REPLACE TRIGGER postings_staging_refuse_rewrite
BEFORE UPDATE OF raw_data, staging_id, workflow_run_id, actor_id, interaction_id,
    supersedes_staging_id, inserted_by, created_at
ON postings_staging
FOR EACH ROW
WHEN (
    old.raw_data IS DISTINCT FROM new.raw_data
    OR old.staging_id IS DISTINCT FROM new.staging_id
    OR old.workflow_run_id IS DISTINCT FROM new.workflow_run_id
    OR old.actor_id IS DISTINCT FROM new.actor_id
    OR old.interaction_id IS DISTINCT FROM new.interaction_id
    OR old.supersedes_staging_id IS DISTINCT FROM new.supersedes_staging_id
    OR old.inserted_by IS DISTINCT FROM new.inserted_by
    OR old.created_at IS DISTINCT FROM new.created_at
)
EXECUTE FUNCTION pgstaging.refuse_staging_rewrite()
