-- Variant: no foreign keys from postings' audit columns to staging (what the
-- per-row RI check, a FOR KEY SHARE lookup of the staged row, costs).
ALTER TABLE postings
DROP CONSTRAINT postings_created_by_staging_id_fkey,
DROP CONSTRAINT postings_updated_by_staging_id_fkey
