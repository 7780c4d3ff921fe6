-- Take a promoted run back out of production, keeping its audit trail.
-- Staged rows are never deleted: they are marked rolled_back (who, when,
-- why) and can be retried or re-staged. Set-based: a fixed number of
-- statements per table touched, never a loop per row.

-- Remove production rows (p_ids) of one staged table: dependents first
-- (refused unless p_cascade), then every staged row that points at them is
-- marked rolled back, then the rows are deleted. Returns a report.
CREATE OR REPLACE FUNCTION pgstaging.remove_promoted_rows(
    p_table name,
    p_ids bigint [],
    p_reason text,
    p_cascade boolean
)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_spec pgstaging.staged_tables;
    v_id_column name;
    v_dependent record;
    v_dependent_ids bigint [];
    v_dependent_table name;
    v_cascaded jsonb := '[]';
    v_blockers text[] := '{}';
    v_rolled_back bigint;
    v_deleted bigint;
BEGIN
    v_spec := pgstaging.staged_table(p_table);
    v_id_column := v_spec.spec ->> 'id_column';
    IF cardinality(p_ids) IS NULL OR cardinality(p_ids) = 0 THEN
        RETURN jsonb_build_object('table', p_table, 'rolled_back_count', 0, 'deleted_count', 0, 'cascaded', '[]'::jsonb);
    END IF;

    -- Foreign keys into this production table, other than pgstaging's own.
    FOR v_dependent IN
        SELECT c.conrelid::regclass AS relation, a.attname AS column_name
        FROM pg_constraint AS c
        INNER JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        WHERE c.contype = 'f' AND c.confrelid = v_spec.production_table AND c.conrelid <> v_spec.production_table
        ORDER BY 1, 2
    LOOP
        v_dependent_table := (SELECT t.table_name FROM pgstaging.staged_tables AS t WHERE t.production_table = v_dependent.relation);
        -- A staged dependent is named by its id column; any other by a count.
        EXECUTE format('SELECT array_agg(%s) FROM %s AS d WHERE d.%I = ANY ($1)',
            coalesce(format('d.%I', (SELECT t.spec ->> 'id_column' FROM pgstaging.staged_tables AS t
                                     WHERE t.table_name = v_dependent_table)), '0::bigint'),
            v_dependent.relation, v_dependent.column_name)
            INTO v_dependent_ids USING p_ids;
        CONTINUE WHEN v_dependent_ids IS NULL;
        IF NOT p_cascade OR v_dependent_table IS NULL THEN
            v_blockers := v_blockers || format('%s.%s (%s rows)', v_dependent.relation, v_dependent.column_name, cardinality(v_dependent_ids));
        ELSE
            EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', v_dependent.relation);
            v_cascaded := v_cascaded || pgstaging.remove_promoted_rows(
                v_dependent_table, v_dependent_ids,
                coalesce(p_reason || ' ', '') || format('(cascade from %s)', p_table), true);
        END IF;
    END LOOP;
    IF cardinality(v_blockers) > 0 THEN
        RAISE EXCEPTION 'pgstaging: % rows to take back are referenced by other data', p_table
            USING ERRCODE = '23503',
                  DETAIL = 'Dependents: ' || array_to_string(v_blockers, ', ') || '.',
                  HINT = CASE WHEN p_cascade THEN 'Only staged tables can be cascaded; remove the other references first.'
                              ELSE 'Unpromote the dependents first, or pass p_cascade => true to take them back too.' END;
    END IF;

    PERFORM pgstaging.check_unpromote_rows(p_table, p_ids);  -- hook(adopt): never delete unstaged or directly changed rows
    EXECUTE format('DELETE FROM %s AS p WHERE p.%I = ANY ($1)', v_spec.production_table, v_id_column) USING p_ids;
    GET DIAGNOSTICS v_deleted = ROW_COUNT;

    -- Then every staged row that points at a removed row: the one that
    -- created it, and duplicates or updates linked to it, in any run. After
    -- the DELETE, so a verdict committed meanwhile is seen and rolled back.
    EXECUTE format(
        'UPDATE %s AS s SET outcome = ''rolled_back'', promoted = false, rolled_back_at = now(),'
        ' rolled_back_by = session_user, rollback_reason = $2'
        ' WHERE s.promoted_to_id = ANY ($1) AND s.outcome IN (''promoted'', ''duplicate'', ''updated'')',
        v_spec.staging_table)
        USING p_ids, p_reason;
    GET DIAGNOSTICS v_rolled_back = ROW_COUNT;

    RETURN jsonb_build_object('table', p_table, 'rolled_back_count', v_rolled_back, 'deleted_count', v_deleted,
                              'cascaded', v_cascaded);
END
$function$;

-- unpromote_{table}_staging(run_id, reason, cascade) is a thin wrapper of this.
CREATE OR REPLACE FUNCTION pgstaging.run_unpromotion(
    p_table name,
    p_workflow_run_id integer,
    p_reason text,
    p_cascade boolean,
    p_interaction_id bigint
)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_spec pgstaging.staged_tables;
    v_id_column name;
    v_started timestamptz := clock_timestamp();
    v_restored jsonb;
    v_restored_count bigint;
    v_updated_rolled_back bigint;
    v_conflicts bigint;
    v_created bigint [];
    v_created_details jsonb;
    v_removal jsonb;
    v_columns text;
    v_result jsonb;
    v_writer text;  -- the caller's value, put back on the way out
BEGIN
    IF p_workflow_run_id IS NULL THEN
        RAISE EXCEPTION 'pgstaging: workflow_run_id must not be NULL' USING ERRCODE = '22004';
    END IF;
    v_spec := pgstaging.staged_table(p_table);
    v_id_column := v_spec.spec ->> 'id_column';
    v_writer := current_setting('pgstaging.writer', true);
    PERFORM set_config('pgstaging.writer', 'on', true);
    PERFORM pgstaging.lock_run(p_table, p_workflow_run_id);
    -- Wait for promotions in flight, and hold new ones off: a duplicate
    -- verdict committed after the DELETE below would point at nothing.
    EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', v_spec.production_table);

    -- Rows the run updated go back to how they were before the run's first
    -- change to them, unless a later run changed them again (restoring
    -- would lose that change: refuse).
    EXECUTE format(
        'SELECT count(*) FROM (SELECT DISTINCT s.promoted_to_id FROM %1$s AS s'
        '  WHERE s.workflow_run_id = $1 AND s.outcome = ''updated'') AS u'
        ' INNER JOIN %2$s AS p ON p.%3$I = u.promoted_to_id'
        ' LEFT JOIN %1$s AS w ON w.staging_id = p.updated_by_staging_id'
        ' WHERE w.workflow_run_id IS DISTINCT FROM $1',
        v_spec.staging_table, v_spec.production_table, v_id_column)
        INTO v_conflicts USING p_workflow_run_id;
    IF v_conflicts > 0 THEN
        RAISE EXCEPTION 'pgstaging: % % rows updated by run % were changed again since', v_conflicts, p_table, p_workflow_run_id
            USING ERRCODE = '55000', HINT = 'Unpromote the later runs first, newest first.';
    END IF;
    PERFORM pgstaging.check_unpromote_direct_writes(p_table, p_workflow_run_id);  -- hook(adopt): direct writes since the run
    v_columns := (SELECT string_agg(format('%I', a.attname), ', ' ORDER BY a.attnum)
                  FROM pg_attribute AS a
                  WHERE a.attrelid = v_spec.production_table AND a.attnum > 0 AND NOT a.attisdropped
                    AND a.attname <> v_id_column AND a.attgenerated = '');
    -- Restoring is not a new change: the pre-image trigger stays quiet.
    PERFORM set_config('pgstaging.restoring', 'on', true);
    EXECUTE format(
        'WITH first_change AS ('
        '  SELECT DISTINCT ON (i.production_id) i.production_id, i.preimage'
        '  FROM pgstaging.update_preimages AS i INNER JOIN %3$s AS s ON s.staging_id = i.staging_id'
        '  WHERE i.table_name = %4$L AND s.workflow_run_id = $1 AND s.outcome = ''updated'''
        '  ORDER BY i.production_id, i.captured_at, i.staging_id'
        '), restored AS ('
        '  UPDATE %1$s AS p SET (%2$s) = (SELECT %2$s FROM jsonb_populate_record(NULL::%1$s, f.preimage))'
        '  FROM first_change AS f WHERE p.%5$I = f.production_id'
        '  RETURNING p.%5$I AS id'
        ') SELECT count(*), coalesce(jsonb_agg(jsonb_build_object(%5$L, r.id) ORDER BY r.id), ''[]'') FROM restored AS r',
        v_spec.production_table, v_columns, v_spec.staging_table, p_table, v_id_column)
        INTO v_restored_count, v_restored USING p_workflow_run_id;
    PERFORM set_config('pgstaging.restoring', '', true);
    EXECUTE format(
        'SELECT count(DISTINCT s.promoted_to_id) FROM %s AS s WHERE s.workflow_run_id = $1 AND s.outcome = ''updated''',
        v_spec.staging_table)
        INTO v_conflicts USING p_workflow_run_id;
    IF v_conflicts <> v_restored_count THEN
        RAISE EXCEPTION 'pgstaging: % rows updated by run % have no pre-image', v_conflicts - v_restored_count, p_workflow_run_id
            USING ERRCODE = '55000';
    END IF;
    EXECUTE format(
        'WITH marked AS (UPDATE %1$s AS s SET outcome = ''rolled_back'', promoted = false, rolled_back_at = now(),'
        ' rolled_back_by = session_user, rollback_reason = $2'
        ' WHERE s.workflow_run_id = $1 AND s.outcome = ''updated'' RETURNING s.staging_id),'
        ' gone AS (DELETE FROM pgstaging.update_preimages AS i USING marked AS m'
        '  WHERE i.table_name = %2$L AND i.staging_id = m.staging_id)'
        ' SELECT count(*) FROM marked',
        v_spec.staging_table, p_table)
        INTO v_updated_rolled_back USING p_workflow_run_id, p_reason;

    -- Rows the run created: delete them (dependents first), roll back every
    -- staged row that points at them.
    EXECUTE format(
        'SELECT array_agg(s.promoted_to_id ORDER BY s.staging_id),'
        ' coalesce(jsonb_agg(jsonb_build_object(''staging_id'', s.staging_id, %2$L, s.promoted_to_id) ORDER BY s.staging_id), ''[]'')'
        ' FROM %1$s AS s WHERE s.workflow_run_id = $1 AND s.outcome = ''promoted''',
        v_spec.staging_table, v_id_column)
        INTO v_created, v_created_details USING p_workflow_run_id;
    v_removal := pgstaging.remove_promoted_rows(p_table, v_created, p_reason, p_cascade);

    v_result := jsonb_build_object(
        'status', 'SUCCESS',
        'deleted_count', (v_removal ->> 'deleted_count')::bigint,
        'restored_count', v_restored_count,
        'rolled_back_count', (v_removal ->> 'rolled_back_count')::bigint + v_updated_rolled_back,
        'details', jsonb_build_object(
            'deleted', v_created_details,
            'restored', v_restored,
            'cascaded', v_removal -> 'cascaded'
        )
    );

    INSERT INTO pgstaging.promotion_log (
        table_name, workflow_run_id, action, rule_version, rolled_back_count, reason, started_at, duration, interaction_id
    )
    VALUES (
        p_table, p_workflow_run_id, 'unpromote', v_spec.rule_version, (v_result ->> 'rolled_back_count')::bigint,
        p_reason, v_started, clock_timestamp() - v_started, p_interaction_id
    );
    PERFORM pgstaging.count_call(v_result);  -- hook(obs): metrics counters, kept as calls happen
    PERFORM pgstaging.raise_alert(jsonb_build_object(
        'table', p_table, 'workflow_run_id', p_workflow_run_id, 'action', 'unpromote',
        'called_by', session_user, 'reason', p_reason, 'interaction_id', p_interaction_id,
        'cascaded', v_removal -> 'cascaded',
        'deleted_count', v_result -> 'deleted_count', 'restored_count', v_result -> 'restored_count',
        'rolled_back_count', v_result -> 'rolled_back_count'
    ));

    PERFORM set_config('pgstaging.writer', coalesce(v_writer, ''), true);
    RETURN v_result;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.remove_promoted_rows(name, bigint [], text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.run_unpromotion(name, integer, text, boolean, bigint) FROM PUBLIC;
