-- Registry of staged tables: one row per spec, written by
-- pgstaging.register_staged_table. The generated statements are stored
-- here so that what promotion runs can be read, not guessed.
CREATE TABLE IF NOT EXISTS pgstaging.staged_tables (
    table_name name PRIMARY KEY,
    production_table regclass NOT NULL,
    staging_table regclass NOT NULL,
    promote_function regprocedure NOT NULL,
    spec jsonb NOT NULL,
    rule_version integer NOT NULL,
    on_duplicate text NOT NULL CHECK (on_duplicate IN ('skip', 'update')),
    known_keys text [] NOT NULL,
    -- Generated statements; $1 run, $2 mode, $3 rule version, $4 staging ids.
    insert_sql text NOT NULL,
    verdict_sql text NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now(),
    -- Since 0.2.0: the judge alone, the patch statements, the natural key
    -- as indexed, and the last packaged spec applied (sql/specs/).
    judge_sql text,
    patch_lock_sql text,
    patch_sql text,
    key_sql text,
    packaged_spec jsonb
);

DO $upgrade$
DECLARE
    v_column record;
BEGIN
    FOR v_column IN
        SELECT c.name, c.type FROM (VALUES (1, 'judge_sql', 'text'), (2, 'patch_lock_sql', 'text'), (3, 'patch_sql', 'text'),
                                          (4, 'key_sql', 'text'), (5, 'packaged_spec', 'jsonb')) AS c (ord, name, type)
        WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                          WHERE a.attrelid = 'pgstaging.staged_tables'::regclass AND a.attname = c.name AND NOT a.attisdropped)
        ORDER BY c.ord
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE pgstaging.staged_tables ADD COLUMN %I %s', v_column.name, v_column.type);
    END LOOP;
END
$upgrade$;

-- Every version of every spec, so each verdict can be traced to its rules.
CREATE TABLE IF NOT EXISTS pgstaging.rule_versions (
    table_name name NOT NULL REFERENCES pgstaging.staged_tables (table_name),
    rule_version integer NOT NULL,
    spec jsonb NOT NULL,
    registered_by name NOT NULL DEFAULT session_user,
    registered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, rule_version)
);

-- One row per promote, retry or unpromote call that changed something or
-- was asked to: who, what, under which rules, how many, how long.
CREATE TABLE IF NOT EXISTS pgstaging.promotion_log (
    log_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name name NOT NULL,
    workflow_run_id integer,
    action text NOT NULL CHECK (action IN ('promote', 'retry', 'batch', 'unpromote')),
    called_by name NOT NULL DEFAULT session_user,
    rule_version integer,
    promoted_count bigint NOT NULL DEFAULT 0,
    duplicate_count bigint NOT NULL DEFAULT 0,
    updated_count bigint NOT NULL DEFAULT 0,
    failed_count bigint NOT NULL DEFAULT 0,
    rolled_back_count bigint NOT NULL DEFAULT 0,
    reason text,
    started_at timestamptz NOT NULL,
    duration interval NOT NULL,
    interaction_id bigint,
    -- The gate's verdict when it held the run, or was ignored.
    gate jsonb
);

-- Added in 0.2.0: the validator's own interaction (design: "log to interactions").
DO $upgrade$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                   WHERE attrelid = 'pgstaging.promotion_log'::regclass AND attname = 'interaction_id') THEN
        ALTER TABLE pgstaging.promotion_log ADD COLUMN interaction_id bigint;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                   WHERE attrelid = 'pgstaging.promotion_log'::regclass AND attname = 'gate') THEN
        ALTER TABLE pgstaging.promotion_log ADD COLUMN gate jsonb;
    END IF;
END
$upgrade$;

CREATE INDEX IF NOT EXISTS promotion_log_run_idx ON pgstaging.promotion_log (table_name, workflow_run_id);

-- Production rows as they were before an `update`-policy promotion changed
-- them (captured by a row trigger, in the same statement as the change), so
-- unpromote can put them back.
CREATE TABLE IF NOT EXISTS pgstaging.update_preimages (
    table_name name NOT NULL,
    production_id bigint NOT NULL,
    staging_id bigint NOT NULL,
    preimage jsonb NOT NULL,
    captured_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (table_name, staging_id, production_id)
);

-- One row per (table, run) ever promoted: promoters lock it FOR UPDATE.
-- Unlike an advisory key, which any login can compute and hold, no script
-- can touch these rows.
CREATE TABLE IF NOT EXISTS pgstaging.run_locks (
    table_name name NOT NULL,
    workflow_run_id integer NOT NULL,
    PRIMARY KEY (table_name, workflow_run_id)
);

-- Verdicts replaced by a retry: the earlier judgement is kept, not lost.
CREATE TABLE IF NOT EXISTS pgstaging.superseded_verdicts (
    table_name name NOT NULL,
    staging_id bigint NOT NULL,
    outcome text NOT NULL,
    validation_errors jsonb,
    rule_version integer,
    validated_at timestamptz,
    superseded_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS superseded_verdicts_row_idx
ON pgstaging.superseded_verdicts (table_name, staging_id);
