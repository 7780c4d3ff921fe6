-- Variant: no row-level BEFORE UPDATE trigger on staging (what its WHEN
-- clause costs per updated row). Not a recommendation: see update_of.
DROP TRIGGER postings_staging_refuse_rewrite ON postings_staging
