-- Adopting an existing production table (issue 14). Called at the start
-- of register_staged_table's DDL: for a table that exists and is not yet
-- registered, refuse in words when its data breaks what the spec needs,
-- report (NOTICE, collected by the installer) every change registration is
-- about to make to it, and start it in observe mode. Its rows,
-- constraints, indexes, triggers and the user's grants are kept.
CREATE OR REPLACE FUNCTION pgstaging.check_adoption(p_spec jsonb)
RETURNS void
LANGUAGE plpgsql
-- FROM CURRENT, as register_staged_table: current_schema() is the target.
SET search_path FROM CURRENT
AS $function$
DECLARE
    v_schema name := pg_catalog.current_schema();
    v_table name := p_spec ->> 'table';
    v_id name := p_spec ->> 'id_column';
    v_rel regclass;
    v_rows bigint;
    v_count bigint;
    v_total bigint;
    v_sample text;
    v_problems text[] := '{}';
    v_changes text[] := '{}';
    v_field jsonb;
    v_col name;
    v_cols text[];
    v_keys text[];
    v_comment text;
    v_grantees text;
BEGIN
    v_rel := pg_catalog.to_regclass(pg_catalog.format('%I.%I', v_schema, v_table));
    IF v_rel IS NULL OR EXISTS (SELECT 1 FROM pgstaging.staged_tables AS t WHERE t.table_name = v_table) THEN
        RETURN;  -- a new table, or one pgstaging already manages
    END IF;
    v_cols := ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute AS a
                    WHERE a.attrelid = v_rel AND a.attnum > 0 AND NOT a.attisdropped);
    EXECUTE pg_catalog.format('SELECT count(*) FROM %s', v_rel) INTO v_rows;

    -- The id column: promotion returns it and staged rows point at it.
    IF NOT v_id = ANY (v_cols) THEN
        RAISE EXCEPTION 'pgstaging: cannot adopt %: it has no id column "%"', v_rel, v_id
            USING ERRCODE = '22023',
                  DETAIL = pg_catalog.format('Columns: %s.', pg_catalog.array_to_string(v_cols, ', ')),
                  HINT = 'Set "id_column" in the spec to the table''s integer primary key.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS c
                   INNER JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.conrelid AND a.attname = v_id
                   WHERE c.conrelid = v_rel AND c.contype IN ('p', 'u') AND c.conkey = ARRAY[a.attnum]) THEN
        RAISE EXCEPTION 'pgstaging: cannot adopt %: its id column "%" is not a primary or unique key', v_rel, v_id
            USING ERRCODE = '22023';
    END IF;

    -- Duplicates of the natural key: its unique key could not be built.
    v_keys := ARRAY(
        SELECT CASE WHEN (f.value ->> 'case_insensitive')::boolean THEN pg_catalog.format('lower(p.%I)', k.name)
                    ELSE pg_catalog.format('p.%I', k.name) END
        FROM pg_catalog.jsonb_array_elements_text(p_spec -> 'natural_key') WITH ORDINALITY AS k (name, ord)
        LEFT JOIN pg_catalog.jsonb_array_elements(p_spec -> 'fields') AS f ON f.value ->> 'column' = k.name
        WHERE k.name = ANY (v_cols)
        ORDER BY k.ord);
    IF pg_catalog.cardinality(v_keys) = pg_catalog.jsonb_array_length(p_spec -> 'natural_key') THEN
        EXECUTE pg_catalog.format(
            'SELECT count(*), sum(d.n), string_agg(d.k || '' ('' || d.n || '' rows)'', ''; '') FILTER (WHERE d.r <= 5)'
            ' FROM (SELECT concat_ws('', '', %1$s) AS k, count(*) AS n, row_number() OVER (ORDER BY count(*) DESC, concat_ws('', '', %1$s)) AS r'
            '       FROM %2$s AS p GROUP BY %1$s HAVING count(*) > 1) AS d',
            pg_catalog.array_to_string(v_keys, ', '), v_rel)
            INTO v_count, v_total, v_sample;
        IF v_count > 0 THEN
            RAISE EXCEPTION 'pgstaging: cannot adopt %: % natural key values (%) occur more than once, % rows in all: %', v_rel, v_count,
                    (SELECT pg_catalog.string_agg(k, ', ') FROM pg_catalog.jsonb_array_elements_text(p_spec -> 'natural_key') AS k),
                    v_total, v_sample
                USING ERRCODE = '22023',
                      DETAIL = pg_catalog.format('%s duplicated keys, %s rows in all; e.g. %s.', v_count, v_total, v_sample),
                      HINT = 'Merge or remove the duplicates (or change the spec''s natural_key), then install again.';
        END IF;
    END IF;

    -- NULLs where the spec requires a value, and audit columns that point
    -- at staged rows no staging table holds yet.
    FOR v_field IN
        SELECT f.value FROM pg_catalog.jsonb_array_elements(p_spec -> 'fields') AS f
        WHERE (coalesce((f.value ->> 'required')::boolean, false)
               OR f.value ->> 'column' IN (SELECT pg_catalog.jsonb_array_elements_text(p_spec -> 'natural_key')))
          AND f.value ->> 'column' = ANY (v_cols)
    LOOP
        v_col := v_field ->> 'column';
        EXECUTE pg_catalog.format(
            'SELECT count(*), (SELECT string_agg(x.id::text, '', '') FROM (SELECT p.%1$I AS id FROM %2$s AS p WHERE p.%3$I IS NULL ORDER BY 1 LIMIT 5) AS x)'
            ' FROM %2$s AS p WHERE p.%3$I IS NULL', v_id, v_rel, v_col)
            INTO v_count, v_sample;
        IF v_count > 0 THEN
            v_problems := v_problems || pg_catalog.format('%s is NULL in %s rows (%s %s)', v_col, v_count, v_id, v_sample);
        END IF;
    END LOOP;
    FOREACH v_col IN ARRAY ARRAY['created_by_staging_id', 'updated_by_staging_id'] LOOP
        CONTINUE WHEN NOT v_col = ANY (v_cols);
        EXECUTE pg_catalog.format(
            'SELECT count(*), (SELECT string_agg(x.id::text, '', '') FROM (SELECT p.%1$I AS id FROM %2$s AS p WHERE p.%3$I IS NOT NULL ORDER BY 1 LIMIT 5) AS x)'
            ' FROM %2$s AS p WHERE p.%3$I IS NOT NULL', v_id, v_rel, v_col)
            INTO v_count, v_sample;
        IF v_count > 0 THEN
            v_problems := v_problems || pg_catalog.format('%s is set in %s rows (%s %s), but no staged row exists yet',
                                                          v_col, v_count, v_id, v_sample);
        END IF;
    END LOOP;
    IF pg_catalog.cardinality(v_problems) > 0 THEN
        RAISE EXCEPTION 'pgstaging: cannot adopt %: its rows break the spec: %', v_rel, pg_catalog.array_to_string(v_problems, '; ')
            USING ERRCODE = '22023',
                  DETAIL = pg_catalog.array_to_string(v_problems, '; ') || '.',
                  HINT = 'Fix those rows (or make the fields optional in the spec), then install again.';
    END IF;

    -- What registration will change, said before it does.
    SELECT pg_catalog.array_agg(pg_catalog.format('adds column %I %s', c.name, c.type) ORDER BY c.ord) INTO v_cols
    FROM (
        SELECT f.value ->> 'column' AS name, f.ord,
               CASE WHEN f.value ? 'references' THEN 'bigint' ELSE pgstaging.spec_sql_type(coalesce(f.value ->> 'type', 'text')) END AS type
        FROM pg_catalog.jsonb_array_elements(p_spec -> 'fields') WITH ORDINALITY AS f (value, ord)
        UNION ALL
        SELECT a.name, 1000 + a.ord, a.type
        FROM (VALUES (1, 'created_by_staging_id', 'bigint'), (2, 'created_by_interaction_id', 'bigint'),
                     (3, 'created_at', 'timestamptz NOT NULL DEFAULT now() (existing rows get the adoption time)'),
                     (4, 'updated_by_staging_id', 'bigint'), (5, 'updated_by_interaction_id', 'bigint'),
                     (6, 'updated_at', 'timestamptz'),
                     (7, 'enabled', 'boolean NOT NULL DEFAULT true'), (8, 'invalidated', 'boolean NOT NULL DEFAULT false'))
             AS a (ord, name, type)
    ) AS c
    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                      WHERE a.attrelid = v_rel AND a.attname = c.name AND a.attnum > 0 AND NOT a.attisdropped);
    v_changes := v_changes || coalesce(v_cols, '{}');
    IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_index AS i
        WHERE i.indrelid = v_rel AND i.indisunique AND i.indpred IS NULL
          AND pg_catalog.cardinality(i.indkey::smallint[]) = pg_catalog.jsonb_array_length(p_spec -> 'natural_key')
          AND i.indkey::smallint[] @> ARRAY(
              SELECT a.attnum FROM pg_catalog.jsonb_array_elements_text(p_spec -> 'natural_key') AS k
              INNER JOIN pg_catalog.pg_attribute AS a ON a.attrelid = v_rel AND a.attname = k)::smallint[]
    ) THEN
        v_changes := v_changes || pg_catalog.format('adds unique key %I on the natural key', v_table || '_natural_key');
    END IF;
    v_changes := v_changes
        || pg_catalog.format('adds foreign keys created_by_staging_id and updated_by_staging_id to %I, and their indexes', v_table || '_staging')
        || ARRAY(SELECT pg_catalog.format('adds foreign key %I to %s, and its index', f.value ->> 'column', f.value -> 'references' ->> 'table')
                 FROM pg_catalog.jsonb_array_elements(p_spec -> 'fields') AS f WHERE f.value ? 'references')
        || pg_catalog.format('adds trigger %I (the write guard)', v_table || '_guard_writes')
        || pg_catalog.format('adds triggers %1$I_observe_insert, %1$I_observe_update, %1$I_observe_delete (observe mode)', v_table);
    IF p_spec ->> 'on_duplicate' = 'update' THEN
        v_changes := v_changes || pg_catalog.format('adds trigger %I (pre-images for unpromote)', v_table || '_capture_preimage');
    END IF;
    v_comment := pg_catalog.obj_description(v_rel, 'pg_class');
    IF v_comment IS NULL THEN
        v_changes := v_changes || 'sets a table comment'::text;
    ELSIF v_comment NOT LIKE 'pgstaging:%' THEN
        v_changes := v_changes || pg_catalog.format('replaces the table comment (was: %s)', v_comment);
    END IF;
    SELECT pg_catalog.string_agg(DISTINCT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE x.grantee::regrole::text END, ', ')
    INTO v_grantees
    FROM pg_catalog.pg_class AS c CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) AS x
    WHERE c.oid = v_rel AND (x.grantee = 0 OR x.grantee::regrole::name IN (pgstaging.group_role('script'), pgstaging.group_role('validator'),
                                                                   pgstaging.group_role('reader'), pgstaging.group_role('steward')));
    IF v_grantees IS NOT NULL THEN
        v_changes := v_changes || pg_catalog.format('revokes the table privileges of %s (other roles keep theirs)', v_grantees);
    END IF;
    v_changes := v_changes || pg_catalog.format('grants %s SELECT on its columns', pgstaging.group_role('reader'));

    RAISE NOTICE 'pgstaging: adopting existing table % (% rows kept, with its constraints, indexes, triggers and grants)', v_rel, v_rows;
    FOR v_sample IN SELECT unnest(v_changes) LOOP
        RAISE NOTICE 'pgstaging: %: %', v_rel, v_sample;
    END LOOP;
    RAISE NOTICE 'pgstaging: % starts in observe mode: direct writes succeed and are logged in pgstaging.direct_writes (pgstaging guard % enforce when none are left)', v_rel, v_table;

    INSERT INTO pgstaging.guard_modes AS g (table_name, mode, adopted)
    VALUES (v_table, 'observe', true)
    ON CONFLICT (table_name) DO UPDATE SET mode = 'observe', adopted = true, changed_by = session_user, changed_at = now();
    PERFORM pgstaging.apply_guard_mode(v_table, v_rel, 'observe');
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.check_adoption(jsonb) FROM PUBLIC;

-- For the grant code (65_grant_staged_table): true when the production
-- table existed before pgstaging registered it, so its users' grants stay.
CREATE OR REPLACE FUNCTION pgstaging.is_adopted(p_table name)
RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
RETURN coalesce((SELECT g.adopted FROM pgstaging.guard_modes AS g WHERE g.table_name = p_table), false);

REVOKE ALL ON FUNCTION pgstaging.is_adopted(name) FROM PUBLIC;
