-- Production. Written only by promote_postings_staging (see the guard).
CREATE TABLE IF NOT EXISTS postings (
    posting_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,

    -- Business fields; external_job_id is the natural key.
    external_job_id text NOT NULL UNIQUE,
    source_website text NOT NULL,
    job_title text NOT NULL,
    job_description text,
    company_name text,
    location text,

    -- Audit trail back to the staged row.
    created_by_staging_id bigint REFERENCES postings_staging (staging_id),
    created_by_interaction_id bigint,
    created_at timestamptz NOT NULL DEFAULT now(),

    updated_by_staging_id bigint REFERENCES postings_staging (staging_id),
    updated_by_interaction_id bigint,
    updated_at timestamptz,

    -- Lifecycle
    enabled boolean NOT NULL DEFAULT true,
    invalidated boolean NOT NULL DEFAULT false
);

COMMENT ON TABLE postings IS 'pgstaging: production postings; written only by promote_postings_staging(run_id)';

-- Without these, deleting staged rows scans postings once per row.
CREATE INDEX IF NOT EXISTS postings_created_by_staging_idx ON postings (created_by_staging_id);
CREATE INDEX IF NOT EXISTS postings_updated_by_staging_idx ON postings (updated_by_staging_id);

CREATE OR REPLACE TRIGGER postings_guard_writes
BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON postings
FOR EACH STATEMENT
EXECUTE FUNCTION pgstaging.guard_pgstaging_writes();
