-- What-if: an index for unpromote's lookup of staged rows by the production row they point at.
CREATE INDEX IF NOT EXISTS postings_staging_promoted_to_idx ON postings_staging (promoted_to_id)
WHERE promoted_to_id IS NOT NULL
