-- The exact allow-list, re-applied on every install: first take back
-- everything pgstaging's roles (and PUBLIC) hold on its objects, then grant
-- column-level privileges only. All in the installer's transaction, so
-- there is no moment without grants.
DO $grants$
DECLARE
    v_target name := current_schema();
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I, pgstaging TO staging_script, staging_validator, staging_reader', v_target);
END
$grants$;

REVOKE ALL ON TABLE postings_staging, postings FROM PUBLIC;
REVOKE ALL ON TABLE postings_staging, postings, workflow_runs, actors, pgstaging.staged_tables, pgstaging.installs
FROM staging_script, staging_validator, staging_reader;

-- staging_script: add raw rows, read back their ids (INSERT ... RETURNING),
-- and resolve actor names. Nothing else.
GRANT INSERT (workflow_run_id, actor_id, interaction_id, raw_data) ON postings_staging TO staging_script;
GRANT SELECT (staging_id) ON postings_staging TO staging_script;
GRANT SELECT (actor_id, actor_name) ON actors TO staging_script;
-- The registry is metadata: which staged tables exist.
SELECT pgstaging.grant_select_all_columns('pgstaging.staged_tables', 'staging_script');

-- staging_reader: read everything, column by column.
SELECT pgstaging.grant_select_all_columns(t.relation, 'staging_reader')
FROM (VALUES
    ('postings_staging'::regclass),
    ('postings'::regclass),
    ('workflow_runs'::regclass),
    ('actors'::regclass),
    ('pgstaging.staged_tables'::regclass),
    ('pgstaging.installs'::regclass)
) AS t (relation);

-- staging_validator: run promotions, and read what they did.
GRANT staging_reader TO staging_validator;
GRANT EXECUTE ON FUNCTION promote_postings_staging(integer) TO staging_validator;

GRANT EXECUTE ON FUNCTION pgstaging.run_exists(integer) TO staging_script, staging_validator, staging_reader;
