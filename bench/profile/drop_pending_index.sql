-- Variant: no partial index on pending rows. Its predicate column (outcome)
-- is set by the promotion UPDATE, which rules out HOT updates.
DROP INDEX postings_staging_pending_idx
