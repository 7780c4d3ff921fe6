-- The shared allow-list, re-applied on every install (each staged table's
-- own grants are applied by pgstaging.register_staged_table): take back
-- what pgstaging's roles and PUBLIC hold, then grant column-level
-- privileges only. All in the installer's transaction: no moment without.
DO $grants$
DECLARE
    v_target name := current_schema();
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I, pgstaging TO staging_script, staging_validator, staging_reader', v_target);
END
$grants$;

REVOKE ALL ON TABLE workflow_runs, actors, pgstaging.staged_tables, pgstaging.installs,
    pgstaging.rule_versions, pgstaging.promotion_log, pgstaging.update_preimages, pgstaging.superseded_verdicts,
    pgstaging.run_locks, pgstaging.actor_logins, pgstaging.actor_rights, pgstaging.runs, pgstaging.alerts, pgstaging.engine_tables,
    pgstaging.spec_format
FROM staging_script, staging_validator, staging_reader;
REVOKE ALL ON TABLE pgstaging.staged_tables, pgstaging.installs, pgstaging.rule_versions,
    pgstaging.promotion_log, pgstaging.update_preimages, pgstaging.superseded_verdicts, pgstaging.run_locks,
    pgstaging.actor_logins, pgstaging.actor_rights, pgstaging.runs, pgstaging.alerts, pgstaging.engine_tables,
    pgstaging.spec_format
FROM PUBLIC;

-- staging_script: resolve actor names, and see which staged tables exist
-- (and their rules: metadata, no data).
GRANT SELECT (actor_id, actor_name) ON actors TO staging_script;
SELECT pgstaging.grant_select_all_columns('pgstaging.staged_tables', 'staging_script');

-- staging_reader: read everything, column by column.
SELECT pgstaging.grant_select_all_columns(t.relation, 'staging_reader')
FROM (VALUES
    ('workflow_runs'::regclass),
    ('actors'::regclass),
    ('pgstaging.staged_tables'::regclass),
    ('pgstaging.installs'::regclass),
    ('pgstaging.rule_versions'::regclass),
    ('pgstaging.spec_format'::regclass),
    ('pgstaging.promotion_log'::regclass),
    ('pgstaging.update_preimages'::regclass),
    ('pgstaging.superseded_verdicts'::regclass),
    ('pgstaging.run_locks'::regclass),
    ('pgstaging.actor_logins'::regclass),
    ('pgstaging.actor_rights'::regclass),
    ('pgstaging.runs'::regclass),
    ('pgstaging.alerts'::regclass),
    ('pgstaging.engine_tables'::regclass)
) AS t (relation);

-- staging_validator: a reader that may also run promotions (granted per
-- table by register_staged_table) and batch mode.
GRANT staging_reader TO staging_validator;
GRANT EXECUTE ON FUNCTION pgstaging.promote_batch(text, integer) TO staging_validator;

GRANT EXECUTE ON FUNCTION pgstaging.run_exists(integer) TO staging_script, staging_validator, staging_reader;
