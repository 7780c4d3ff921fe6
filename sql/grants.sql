-- The shared allow-list, re-applied on every install (each staged table's
-- own grants are applied by pgstaging.register_staged_table): take back
-- what pgstaging's roles and PUBLIC hold, then grant column-level
-- privileges only. All in the installer's transaction: no moment without.
-- Role names are this install's (pgstaging.group_role).
DO $grants$
DECLARE
    v_script name := pgstaging.group_role('script');
    v_validator name := pgstaging.group_role('validator');
    v_reader name := pgstaging.group_role('reader');
    v_steward name := pgstaging.group_role('steward');
    v_tables text := 'workflow_runs, actors, pgstaging.staged_tables, pgstaging.installs, '
        'pgstaging.rule_versions, pgstaging.promotion_log, pgstaging.update_preimages, '
        'pgstaging.superseded_verdicts, pgstaging.run_locks, pgstaging.actor_logins, '
        'pgstaging.actor_rights, pgstaging.runs, pgstaging.alerts, pgstaging.group_roles, pgstaging.data_migrations, '
        'pgstaging.spec_format, pgstaging.engine_tables, pgstaging.guard_modes, pgstaging.direct_writes, '
        'pgstaging.direct_write_rows, pgstaging.guard_passes, pgstaging.metric_totals, pgstaging.metric_deltas, '
        'pgstaging.metric_fold_lock';
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I, pgstaging TO %I, %I, %I, %I',
        current_schema(), v_script, v_validator, v_reader, v_steward);
    EXECUTE format('REVOKE ALL ON TABLE %s FROM %I, %I, %I, %I', v_tables, v_script, v_validator, v_reader, v_steward);
    EXECUTE format('REVOKE ALL ON TABLE %s FROM PUBLIC', replace(v_tables, 'workflow_runs, actors, ', ''));

    -- Everyone of pgstaging may look up this install's role names.
    EXECUTE format('GRANT SELECT (role_kind, role_name, role_prefix) ON pgstaging.group_roles TO %I, %I, %I, %I',
        v_script, v_validator, v_reader, v_steward);

    -- script: resolve actor names, and see which staged tables exist (and
    -- their rules: metadata, no data).
    EXECUTE format('GRANT SELECT (actor_id, actor_name) ON actors TO %I', v_script);
    PERFORM pgstaging.grant_select_all_columns('pgstaging.staged_tables', v_script);
    -- script: the staging rights guard runs as the script and reads its
    -- bindings and rights (metadata, no data).
    EXECUTE format('GRANT SELECT (actor_id, login) ON pgstaging.actor_logins TO %I', v_script);
    EXECUTE format('GRANT SELECT (actor_id, table_name, right_name) ON pgstaging.actor_rights TO %I', v_script);

    -- reader: read everything, column by column.
    PERFORM pgstaging.grant_select_all_columns(t.relation, v_reader)
    FROM (VALUES
        ('workflow_runs'::regclass),
        ('actors'::regclass),
        ('pgstaging.staged_tables'::regclass),
        ('pgstaging.installs'::regclass),
        ('pgstaging.spec_format'::regclass),
        ('pgstaging.engine_tables'::regclass),
        ('pgstaging.guard_modes'::regclass),
        ('pgstaging.direct_writes'::regclass),
        ('pgstaging.direct_write_rows'::regclass),
        ('pgstaging.guard_passes'::regclass),
        ('pgstaging.metric_totals'::regclass),
        ('pgstaging.metric_deltas'::regclass),
        ('pgstaging.metric_fold_lock'::regclass),
        ('pgstaging.rule_versions'::regclass),
        ('pgstaging.promotion_log'::regclass),
        ('pgstaging.update_preimages'::regclass),
        ('pgstaging.superseded_verdicts'::regclass),
        ('pgstaging.run_locks'::regclass),
        ('pgstaging.actor_logins'::regclass),
        ('pgstaging.actor_rights'::regclass),
        ('pgstaging.runs'::regclass),
        ('pgstaging.alerts'::regclass),
        ('pgstaging.group_roles'::regclass),
        ('pgstaging.data_migrations'::regclass)
    ) AS t (relation);

    -- validator: a reader that may also run promotions (granted per table by
    -- register_staged_table) and batch mode. steward: a validator that may
    -- also restage failed rows.
    PERFORM pgstaging.grant_membership(v_reader, v_validator);
    PERFORM pgstaging.grant_membership(v_validator, v_steward);
    EXECUTE format('GRANT EXECUTE ON FUNCTION pgstaging.promote_batch(text, integer) TO %I', v_validator);
    EXECUTE format('GRANT EXECUTE ON FUNCTION pgstaging.restage(text, bigint, jsonb) TO %I', v_steward);

    EXECUTE format('GRANT EXECUTE ON FUNCTION pgstaging.run_exists(integer) TO %I, %I, %I',
        v_script, v_validator, v_reader);
END
$grants$;
