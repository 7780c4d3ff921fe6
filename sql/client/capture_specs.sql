-- `spec check FILE.sql`: register_staged_table collects specs here instead
-- of creating anything (the caller rolls back).
CREATE TEMP TABLE IF NOT EXISTS pgstaging_captured_specs (n bigint GENERATED ALWAYS AS IDENTITY, spec jsonb NOT NULL)
ON COMMIT DROP;
