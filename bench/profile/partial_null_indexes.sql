-- Variant: the always-NULL-at-insert columns indexed only where set: every
-- staged row and every new posting skip one index insertion.
DROP INDEX postings_staging_supersedes_idx;
CREATE INDEX postings_staging_supersedes_idx ON postings_staging (supersedes_staging_id)
WHERE supersedes_staging_id IS NOT NULL;
DROP INDEX postings_updated_by_staging_idx;
CREATE INDEX postings_updated_by_staging_idx ON postings (updated_by_staging_id)
WHERE updated_by_staging_id IS NOT NULL
