-- Design alternative: verdicts in a narrow table of their own, inserted,
-- instead of updating each 1.7 KB staged row in place.
CREATE TABLE bench.verdicts (
    staging_id bigint PRIMARY KEY,
    outcome text NOT NULL,
    promoted_to_id bigint,
    validation_errors jsonb,
    validated_at timestamptz NOT NULL,
    validated_by name NOT NULL
)
