-- The design's own schema (seed/staging-table-design.md, "Schema Design"),
-- for its row-by-row validator, whose UPDATEs pgstaging's stricter
-- postings_staging (verdict CHECK, write guards) would refuse. Transcribed
-- as written: the inline INDEX lines become CREATE INDEX, and there is no
-- index on postings.created_by_staging_id, as in the design.
CREATE SCHEMA IF NOT EXISTS bench_design;

CREATE TABLE IF NOT EXISTS bench_design.postings_staging (
    staging_id bigserial PRIMARY KEY,
    workflow_run_id int REFERENCES workflow_runs (workflow_run_id),
    actor_id int REFERENCES actors (actor_id),
    interaction_id bigint,
    raw_data jsonb NOT NULL,
    validated boolean DEFAULT false,
    validation_errors jsonb,
    promoted boolean DEFAULT false,
    promoted_to_id bigint,
    promoted_at timestamptz,
    created_at timestamptz DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_staging_workflow ON bench_design.postings_staging (workflow_run_id, promoted);
CREATE INDEX IF NOT EXISTS idx_staging_validation ON bench_design.postings_staging (validated, promoted);

CREATE TABLE IF NOT EXISTS bench_design.postings (
    posting_id bigserial PRIMARY KEY,
    external_job_id text UNIQUE NOT NULL,
    source_website text NOT NULL,
    job_title text NOT NULL,
    job_description text,
    company_name text,
    location text,
    created_by_staging_id bigint REFERENCES bench_design.postings_staging (staging_id),
    created_by_interaction_id bigint,
    created_at timestamptz DEFAULT now(),
    updated_by_staging_id bigint REFERENCES bench_design.postings_staging (staging_id),
    updated_by_interaction_id bigint,
    updated_at timestamptz,
    enabled boolean DEFAULT true,
    invalidated boolean DEFAULT false
);
