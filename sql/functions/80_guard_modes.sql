-- Guard modes per staged table (issue 14). enforce: only pgstaging writes
-- production (the write guard refuses the rest). observe: for a migration,
-- direct INSERT, UPDATE and DELETE succeed, and the observing triggers
-- below record each statement in pgstaging.direct_writes and alert. The
-- observing triggers exist only in observe mode, so enforce mode pays
-- nothing for transition tables.

-- The observing trigger, AFTER each statement (one trigger per event:
-- transition tables cannot serve several events). SECURITY DEFINER: it
-- records into tables the writer may not touch. It cannot see the writer's
-- current_user, so pgstaging's own statements are told apart by the pass
-- the write guard (which can) leaves in pgstaging.guard_passes. A direct
-- write may not set pgstaging's audit columns: refused, set-based.
CREATE OR REPLACE FUNCTION pgstaging.observe_direct_writes()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_left integer;
    v_table name;
    v_id name;
    v_rows bigint;
    v_forged bigint;
    v_sample text;
    v_write_id bigint;
    v_audit constant text := 'ROW(%1$s.created_by_staging_id, %1$s.created_by_interaction_id, %1$s.updated_by_staging_id, %1$s.updated_by_interaction_id)';
BEGIN
    UPDATE pgstaging.guard_passes AS g SET pending = g.pending - 1
    WHERE g.transaction_id = pg_catalog.pg_current_xact_id() AND g.relid = TG_RELID AND g.operation = TG_OP
    RETURNING g.pending INTO v_left;
    IF FOUND THEN
        IF v_left = 0 THEN
            DELETE FROM pgstaging.guard_passes AS g
            WHERE g.transaction_id = pg_catalog.pg_current_xact_id() AND g.relid = TG_RELID AND g.operation = TG_OP;
        END IF;
        RETURN NULL;  -- pgstaging's own statement
    END IF;

    SELECT t.table_name, t.spec ->> 'id_column' INTO v_table, v_id
    FROM pgstaging.staged_tables AS t WHERE t.production_table = TG_RELID;

    IF TG_OP = 'INSERT' THEN
        EXECUTE pg_catalog.format(
            'SELECT count(*), count(*) FILTER (WHERE %1$s IS DISTINCT FROM ROW(NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint)),'
            ' (SELECT string_agg(x.id::text, '', '') FROM (SELECT n.%2$I AS id FROM new_rows AS n'
            '   WHERE %1$s IS DISTINCT FROM ROW(NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint) ORDER BY 1 LIMIT 5) AS x)'
            ' FROM new_rows AS n', pg_catalog.format(v_audit, 'n'), v_id)
            INTO v_rows, v_forged, v_sample;
    ELSIF TG_OP = 'UPDATE' THEN
        EXECUTE pg_catalog.format(
            'WITH changed AS (SELECT n.%2$I AS id FROM new_rows AS n LEFT JOIN old_rows AS o ON o.%2$I = n.%2$I'
            '  WHERE %1$s IS DISTINCT FROM %3$s)'
            ' SELECT (SELECT count(*) FROM new_rows), (SELECT count(*) FROM changed),'
            ' (SELECT string_agg(x.id::text, '', '') FROM (SELECT c.id FROM changed AS c ORDER BY 1 LIMIT 5) AS x)',
            pg_catalog.format(v_audit, 'n'),
            v_id,
            -- A row whose id changed is compared with an empty audit trail.
            'coalesce(' || pg_catalog.format(v_audit, 'o') || ', ROW(NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint))')
            INTO v_rows, v_forged, v_sample;
    ELSE
        EXECUTE 'SELECT count(*), 0, NULL FROM old_rows' INTO v_rows, v_forged, v_sample;
    END IF;
    IF v_forged > 0 THEN
        RAISE EXCEPTION 'pgstaging: a direct % on % may not set pgstaging''s audit columns', TG_OP, v_table
            USING ERRCODE = '42501',
                  DETAIL = pg_catalog.format('%s rows set created_by_* or updated_by_* (%s %s); only promotion records a staged origin.',
                                             v_forged, v_id, v_sample),
                  HINT = 'Leave created_by_staging_id, created_by_interaction_id, updated_by_staging_id and updated_by_interaction_id out of the statement.';
    END IF;

    INSERT INTO pgstaging.direct_writes (table_name, operation, session_user_name, application_name, row_count)
    VALUES (v_table, TG_OP, session_user, pg_catalog.current_setting('application_name', true), v_rows)
    RETURNING write_id INTO v_write_id;
    -- Rows changed or removed: unpromote must not restore or delete them.
    IF TG_OP = 'UPDATE' THEN
        EXECUTE pg_catalog.format(
            'INSERT INTO pgstaging.direct_write_rows (write_id, table_name, production_id)'
            ' SELECT $1, $2, x.id FROM (SELECT o.%1$I AS id FROM old_rows AS o UNION SELECT n.%1$I FROM new_rows AS n) AS x',
            v_id) USING v_write_id, v_table;
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE pg_catalog.format(
            'INSERT INTO pgstaging.direct_write_rows (write_id, table_name, production_id)'
            ' SELECT DISTINCT $1, $2, o.%1$I FROM old_rows AS o', v_id) USING v_write_id, v_table;
    END IF;
    PERFORM pgstaging.raise_alert(pg_catalog.jsonb_build_object(
        'action', 'direct_write', 'table', v_table, 'operation', TG_OP, 'write_id', v_write_id,
        'session_user', session_user, 'application_name', pg_catalog.current_setting('application_name', true),
        'row_count', v_rows, 'transaction_id', pg_catalog.pg_current_xact_id()::text));
    RETURN NULL;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.observe_direct_writes() FROM PUBLIC;

-- Install or remove the observing triggers of one table to match its mode.
CREATE OR REPLACE FUNCTION pgstaging.apply_guard_mode(p_table name, p_production regclass, p_mode text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_event text;
    v_name name;
BEGIN
    FOREACH v_event IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
        v_name := p_table || '_observe_' || v_event;
        IF p_mode = 'observe' THEN
            EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER %s ON %s REFERENCING %s FOR EACH STATEMENT'
                           ' EXECUTE FUNCTION pgstaging.observe_direct_writes()',
                v_name, upper(v_event), p_production,
                CASE v_event WHEN 'insert' THEN 'NEW TABLE AS new_rows'
                             WHEN 'update' THEN 'OLD TABLE AS old_rows NEW TABLE AS new_rows'
                             ELSE 'OLD TABLE AS old_rows' END);
        ELSIF EXISTS (SELECT 1 FROM pg_trigger AS t WHERE t.tgrelid = p_production AND t.tgname = v_name) THEN
            EXECUTE format('DROP TRIGGER %I ON %s', v_name, p_production);
        END IF;
    END LOOP;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.apply_guard_mode(name, regclass, text) FROM PUBLIC;

-- pgstaging.set_guard('postings', 'enforce'): the owner switches a staged
-- table's guard. Switching to enforce while direct writes were seen in the
-- last day would break their writers: refused unless p_force.
CREATE OR REPLACE FUNCTION pgstaging.set_guard(p_table text, p_mode text, p_force boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_spec pgstaging.staged_tables;
    v_previous text;
    v_recent bigint;
    v_writers text;
BEGIN
    IF p_mode IS NULL OR p_mode NOT IN ('observe', 'enforce') THEN
        RAISE EXCEPTION 'pgstaging: guard mode must be observe or enforce, not %', coalesce('"' || p_mode || '"', 'NULL')
            USING ERRCODE = '22023';
    END IF;
    SELECT t.* INTO v_spec FROM pgstaging.staged_tables AS t WHERE t.table_name = p_table;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pgstaging: "%" is not a staged table', p_table
            USING ERRCODE = '42P01',
                  HINT = 'Staged tables: ' || coalesce((SELECT string_agg(t.table_name, ', ' ORDER BY t.table_name)
                                                        FROM pgstaging.staged_tables AS t), 'none') || '.';
    END IF;
    IF NOT pg_has_role(current_user, (SELECT c.relowner FROM pg_class AS c WHERE c.oid = v_spec.production_table), 'USAGE') THEN
        RAISE EXCEPTION 'pgstaging: only the owner of % may change its guard', v_spec.production_table
            USING ERRCODE = '42501', DETAIL = format('current_user is %s.', current_user);
    END IF;
    -- One switch at a time per table; writers keep going meanwhile.
    PERFORM 1 FROM pgstaging.staged_tables AS t WHERE t.table_name = p_table FOR UPDATE;
    v_previous := coalesce((SELECT g.mode FROM pgstaging.guard_modes AS g WHERE g.table_name = p_table), 'enforce');

    IF p_mode = 'enforce' AND v_previous = 'observe' AND NOT coalesce(p_force, false) THEN
        SELECT sum(w.statements)::bigint, string_agg(format('%s/%s (%s statements)', w.session_user_name,
                                                    coalesce(w.application_name, ''), w.statements), ', ')
        INTO v_recent, v_writers
        FROM (SELECT d.session_user_name, d.application_name, count(*) AS statements
              FROM pgstaging.direct_writes AS d
              WHERE d.table_name = p_table AND d.written_at > now() - interval '1 day'
              GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 5) AS w;
        IF v_recent > 0 THEN
            RAISE EXCEPTION 'pgstaging: % had direct writes in the last day; enforce would refuse them', p_table
                USING ERRCODE = '55000',
                      DETAIL = 'Direct writers (login/application): ' || v_writers || '.',
                      HINT = 'Move those writers to staging first, or pass p_force => true (CLI: --force).';
        END IF;
    END IF;

    INSERT INTO pgstaging.guard_modes AS g (table_name, mode)
    VALUES (p_table, p_mode)
    ON CONFLICT (table_name) DO UPDATE SET mode = excluded.mode, changed_by = session_user, changed_at = now()
    WHERE g.mode IS DISTINCT FROM excluded.mode;
    PERFORM pgstaging.apply_guard_mode(p_table, v_spec.production_table, p_mode);
    RETURN jsonb_build_object('table', p_table, 'mode', p_mode, 'previous_mode', v_previous);
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.set_guard(text, text, boolean) FROM PUBLIC;

-- Rows of a staged table's production table without a staged origin
-- (created_by_staging_id NULL): legacy rows of an adopted table, and
-- direct inserts in observe mode. Unpromote never deletes them. For the
-- health view and `pgstaging status`; the caller's own SELECT decides.
CREATE OR REPLACE FUNCTION pgstaging.unstaged_row_count(p_table name)
RETURNS bigint
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_production regclass;
    v_count bigint;
BEGIN
    SELECT t.production_table INTO v_production FROM pgstaging.staged_tables AS t WHERE t.table_name = p_table;
    IF v_production IS NULL THEN
        RETURN NULL;  -- not a staged table
    END IF;
    EXECUTE format('SELECT count(*) FROM %s AS p WHERE p.created_by_staging_id IS NULL', v_production) INTO v_count;
    RETURN v_count;
END
$function$;

-- Unpromote (hook in run_unpromotion): rows the run updated that a direct
-- write changed after the run: restoring them would lose that change.
CREATE OR REPLACE FUNCTION pgstaging.check_unpromote_direct_writes(p_table name, p_workflow_run_id integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_count bigint;
    v_sample text;
BEGIN
    EXECUTE format(
        'SELECT count(DISTINCT s.promoted_to_id), array_to_string((array_agg(DISTINCT s.promoted_to_id))[1:5], '', '')'
        ' FROM %s AS s'
        ' INNER JOIN pgstaging.direct_write_rows AS r ON r.table_name = $2 AND r.production_id = s.promoted_to_id'
        ' INNER JOIN pgstaging.direct_writes AS d ON d.write_id = r.write_id AND d.written_at >= s.promoted_at'
        ' WHERE s.workflow_run_id = $1 AND s.outcome IN (''promoted'', ''updated'')',
        (SELECT t.staging_table FROM pgstaging.staged_tables AS t WHERE t.table_name = p_table))
        INTO v_count, v_sample USING p_workflow_run_id, p_table;
    IF v_count > 0 THEN
        RAISE EXCEPTION 'pgstaging: % % rows of run % were changed by direct writes since', v_count, p_table, p_workflow_run_id
            USING ERRCODE = '55000',
                  DETAIL = format('Production ids: %s; see pgstaging.direct_write_rows.', v_sample),
                  HINT = 'Unpromoting would lose those changes: settle them by hand first.';
    END IF;
END
$function$;

-- Unpromote (hook in remove_promoted_rows, cascades included): never
-- delete a row without a staged origin, nor one a direct write changed.
CREATE OR REPLACE FUNCTION pgstaging.check_unpromote_rows(p_table name, p_ids bigint [])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_spec pgstaging.staged_tables;
    v_count bigint;
    v_sample text;
BEGIN
    SELECT t.* INTO STRICT v_spec FROM pgstaging.staged_tables AS t WHERE t.table_name = p_table;
    EXECUTE format(
        'SELECT count(*), array_to_string((array_agg(x.id))[1:5], '', '') FROM (SELECT p.%1$I AS id FROM %2$s AS p'
        '  WHERE p.%1$I = ANY ($1) AND (p.created_by_staging_id IS NULL OR EXISTS ('
        '    SELECT 1 FROM pgstaging.direct_write_rows AS r WHERE r.table_name = $2 AND r.production_id = p.%1$I))'
        '  ORDER BY 1) AS x',
        v_spec.spec ->> 'id_column', v_spec.production_table)
        INTO v_count, v_sample USING p_ids, p_table;
    IF v_count > 0 THEN
        RAISE EXCEPTION 'pgstaging: % % rows to delete have no staged origin or were changed by direct writes', v_count, p_table
            USING ERRCODE = '55000',
                  DETAIL = format('Production ids: %s.', v_sample),
                  HINT = 'Unpromote never deletes legacy rows, direct inserts, or rows a direct write changed.';
    END IF;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.check_unpromote_direct_writes(name, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.check_unpromote_rows(name, bigint []) FROM PUBLIC;
