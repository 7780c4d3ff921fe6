ALTER TABLE postings_staging RESET (autovacuum_enabled);
ALTER TABLE postings RESET (autovacuum_enabled)
