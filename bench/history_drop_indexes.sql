-- The "before" of the history scenario: postings staging without the health indexes.
DROP INDEX IF EXISTS postings_staging_validated_at_idx, postings_staging_created_at_idx
