-- VACUUM without ANALYZE: hint bits and visibility map as usual, but the
-- column statistics still describe the tables before the new run.
VACUUM postings_staging, postings
