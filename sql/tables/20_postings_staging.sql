-- What script actors write: raw JSON, never judged by the writer.
CREATE TABLE IF NOT EXISTS postings_staging (
    staging_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,

    -- What wrote this? A staged row must belong to a run to ever be promoted.
    workflow_run_id integer NOT NULL REFERENCES workflow_runs (workflow_run_id),
    actor_id integer REFERENCES actors (actor_id),
    interaction_id bigint,

    raw_data jsonb NOT NULL,

    -- Validation
    validated boolean NOT NULL DEFAULT false,
    validation_errors jsonb,
    validated_at timestamptz,
    validated_by name,

    -- Promotion; a duplicate is promoted = true and links the existing row.
    promoted boolean NOT NULL DEFAULT false,
    promoted_to_id bigint,
    promoted_at timestamptz,
    outcome text,

    -- Recorded by the database, never by the writer.
    inserted_by name NOT NULL DEFAULT session_user,
    created_at timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT postings_staging_outcome_check
        CHECK (outcome IN ('promoted', 'duplicate', 'failed')),
    CONSTRAINT postings_staging_verdict_check CHECK (
        (outcome IS NULL AND NOT validated AND NOT promoted)
        OR (outcome = 'failed' AND validated AND NOT promoted AND validation_errors IS NOT NULL)
        OR (outcome IN ('promoted', 'duplicate') AND validated AND promoted AND promoted_to_id IS NOT NULL)
    )
);

COMMENT ON TABLE postings_staging IS 'pgstaging: raw postings from script actors; judged by promote_postings_staging(run_id)';
COMMENT ON COLUMN postings_staging.outcome IS 'NULL while pending; promoted, duplicate or failed once validated';

CREATE INDEX IF NOT EXISTS postings_staging_run_idx ON postings_staging (workflow_run_id);
CREATE INDEX IF NOT EXISTS postings_staging_actor_idx ON postings_staging (actor_id);

-- Verdict and provenance are the database's to set, not the writer's.
CREATE OR REPLACE TRIGGER postings_staging_refuse_forged
BEFORE INSERT ON postings_staging
FOR EACH ROW
WHEN (
    new.validated OR new.promoted OR new.outcome IS NOT NULL
    OR new.validation_errors IS NOT NULL OR new.validated_at IS NOT NULL OR new.validated_by IS NOT NULL
    OR new.promoted_to_id IS NOT NULL OR new.promoted_at IS NOT NULL
    OR new.inserted_by IS DISTINCT FROM session_user OR new.created_at IS DISTINCT FROM now()
)
EXECUTE FUNCTION pgstaging.refuse_forged_staging_row();

-- What was staged, by whom and when, never changes, for anyone.
CREATE OR REPLACE TRIGGER postings_staging_refuse_rewrite
BEFORE UPDATE ON postings_staging
FOR EACH ROW
WHEN (
    old.raw_data IS DISTINCT FROM new.raw_data
    OR old.staging_id IS DISTINCT FROM new.staging_id
    OR old.workflow_run_id IS DISTINCT FROM new.workflow_run_id
    OR old.actor_id IS DISTINCT FROM new.actor_id
    OR old.interaction_id IS DISTINCT FROM new.interaction_id
    OR old.inserted_by IS DISTINCT FROM new.inserted_by
    OR old.created_at IS DISTINCT FROM new.created_at
)
EXECUTE FUNCTION pgstaging.refuse_staging_rewrite();

-- Verdicts are written only by the promote function.
CREATE OR REPLACE TRIGGER postings_staging_guard_update
BEFORE UPDATE ON postings_staging
FOR EACH STATEMENT
EXECUTE FUNCTION pgstaging.guard_pgstaging_writes();

CREATE OR REPLACE TRIGGER postings_staging_guard_removal
BEFORE DELETE OR TRUNCATE ON postings_staging
FOR EACH STATEMENT
EXECUTE FUNCTION pgstaging.guard_staging_removal();
