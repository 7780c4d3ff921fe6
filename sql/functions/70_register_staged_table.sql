-- Register (or re-register) a staged table from its spec. One call creates
-- or alters the production table, {table}_staging with its guards, the
-- judged view, the health view, promote_/retry_/unpromote_{table}_staging,
-- and the grants. A changed spec becomes a new rule version; verdicts
-- already given keep the version they were judged by.
--
-- Spec (jsonb):
--   table         production table name (created in the target schema)
--   id_column     its bigint identity key, e.g. posting_id
--   natural_key   column names; a field with "case_insensitive" compares lower()
--   on_duplicate  skip (default) | update
--   fields        [{column, source, type, required, default, normalize,
--                   accept_integer, min_length, max_length, pattern, one_of,
--                   min, max, case_insensitive, references}]
--   rules         [{field, error, check}]: check is a SQL predicate over the
--                 normalized columns; the row fails when it is false
CREATE OR REPLACE FUNCTION pgstaging.register_staged_table(p_spec jsonb)
RETURNS integer
LANGUAGE plpgsql
-- FROM CURRENT: the installer's target schema comes first for new objects.
SET search_path FROM CURRENT
AS $function$
DECLARE
    v_schema name := current_schema();
    v_table name := p_spec ->> 'table';
    v_staging name := (p_spec ->> 'table') || '_staging';
    v_id name := p_spec ->> 'id_column';
    v_policy text := coalesce(p_spec ->> 'on_duplicate', 'skip');
    v_field jsonb;
    v_rule jsonb;
    v_col name;
    v_type text;
    v_sql_type text;
    v_keys text[];
    v_key text;
    v_ord integer;
    v_raw text;
    v_all_keys text[] := '{}';
    v_record_cols text := '';
    v_cand_cols text := '';
    v_value_cols text := '';
    v_error_cols text := '';
    v_joins text := '';
    v_error_fold text := '';
    v_rule_fold text := '';
    v_columns text[] := '{}';
    v_prod_defs text := '';
    v_key_j text[] := '{}';
    v_key_conflict text[] := '{}';
    v_key_match text[] := '{}';
    v_ref jsonb;
    v_ref_table regclass;
    v_ref_type text;
    v_lookup text;
    v_value text;
    v_error text;
    v_judge text;
    v_filter text;
    v_version integer;
    v_old jsonb;
    v_prod regclass;
    v_stage regclass;
    v_insert text;
    v_verdict text;
    v_summary text;
    v_mark text;
    v_col_list text;
    v_j_list text;
    v_changed text;
    v_fn text;
BEGIN
    -- Validate the spec's shape before generating anything.
    IF v_table IS NULL OR v_id IS NULL OR jsonb_typeof(p_spec -> 'fields') IS DISTINCT FROM 'array'
        OR jsonb_typeof(p_spec -> 'natural_key') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'pgstaging: a spec needs "table", "id_column", "natural_key" and "fields"'
            USING ERRCODE = '22023', DETAIL = p_spec::text;
    END IF;
    IF v_policy NOT IN ('skip', 'update') THEN
        RAISE EXCEPTION 'pgstaging: on_duplicate must be skip or update, not "%"', v_policy USING ERRCODE = '22023';
    END IF;

    -- Fields: raw keys, candidates, values, errors, lookups.
    FOR v_field, v_ord IN SELECT f.value, f.ord FROM jsonb_array_elements(p_spec -> 'fields') WITH ORDINALITY AS f (value, ord) LOOP
        v_col := v_field ->> 'column';
        v_type := coalesce(v_field ->> 'type', 'text');
        v_sql_type := pgstaging.spec_sql_type(v_type);
        IF v_col IS NULL OR v_sql_type IS NULL THEN
            RAISE EXCEPTION 'pgstaging: field % of "%" needs a column and a known type', v_ord, v_table
                USING ERRCODE = '22023', DETAIL = v_field::text,
                      HINT = 'Types: text, integer, bigint, numeric, boolean, date, timestamptz.';
        END IF;
        IF v_field ? 'pattern' THEN
            PERFORM '' ~ (v_field ->> 'pattern');  -- a bad pattern fails here, not per row
        END IF;
        v_keys := pgstaging.spec_field_keys(v_field);
        FOREACH v_key IN ARRAY v_keys LOOP
            IF NOT v_key = ANY (v_all_keys) THEN
                v_all_keys := v_all_keys || v_key;
                v_record_cols := v_record_cols || format(', %I jsonb', v_key);
            END IF;
        END LOOP;

        IF v_field ? 'references' THEN
            -- A reference: the first present raw key is looked up in the
            -- referenced table and resolved to its id.
            v_ref := v_field -> 'references';
            v_ref_table := (v_ref ->> 'table')::regclass;
            v_value := 'CASE';
            v_error := 'CASE';
            FOR v_key, v_ord IN SELECT k.key, k.ord FROM unnest(v_keys) WITH ORDINALITY AS k (key, ord) LOOP
                v_raw := format('raw.%I', v_key);
                SELECT format_type(a.atttypid, a.atttypmod) INTO v_ref_type
                FROM pg_attribute AS a
                WHERE a.attrelid = v_ref_table AND a.attname = v_ref -> 'by' ->> v_key AND NOT a.attisdropped;
                IF v_ref_type IS NULL THEN
                    RAISE EXCEPTION 'pgstaging: %.% has no column "%"', v_table, v_col, v_ref -> 'by' ->> v_key
                        USING ERRCODE = '42703';
                END IF;
                v_cand_cols := v_cand_cols || format(', %s AS %I', pgstaging.spec_candidate_sql(
                    jsonb_build_object('column', v_col, 'accept_integer', true),
                    format('r.%I', v_key),
                    CASE WHEN v_ref_type IN ('integer', 'bigint', 'smallint') THEN 'bigint' ELSE 'text' END),
                    format('c:%s:%s', v_col, v_key));
                v_lookup := format('%I', format('ref:%s:%s', v_col, v_key));
                v_joins := v_joins || format(
                    ' LEFT JOIN LATERAL (SELECT t.%I AS id FROM %s AS t WHERE t.%I = raw.%I LIMIT 1) AS %s ON true',
                    v_ref ->> 'id', pgstaging.qualified_name(v_ref_table), v_ref -> 'by' ->> v_key, format('c:%s:%s', v_col, v_key), v_lookup);
                v_value := v_value || format(' WHEN %s IS NOT NULL THEN %s.id', v_raw, v_lookup);
                v_error := v_error || format(
                    ' WHEN %1$s IS NOT NULL THEN CASE WHEN jsonb_typeof(%1$s) NOT IN (''string'', ''number'') THEN ''wrong type'' WHEN raw.%2$I IS NULL THEN ''not an id'' WHEN %3$s.id IS NULL THEN ''not found'' END',
                    v_raw, format('c:%s:%s', v_col, v_key), v_lookup);
            END LOOP;
            v_value := v_value || ' END';
            v_error := v_error || CASE WHEN coalesce((v_field ->> 'required')::boolean, false)
                THEN ' ELSE ''missing'' END' ELSE ' END' END;
            v_sql_type := 'bigint';
        ELSE
            v_raw := format('raw.%I', v_keys[1]);
            v_cand_cols := v_cand_cols || format(', %s AS %I',
                pgstaging.spec_candidate_sql(v_field, format('r.%I', v_keys[1]), v_type), 'c:' || v_col);
            v_value := format('raw.%I', 'c:' || v_col);
            IF v_field ? 'default' THEN
                v_value := format('coalesce(%s, %L::%s)', v_value, v_field ->> 'default', v_sql_type);
            END IF;
            v_error := pgstaging.spec_error_sql(v_field, v_raw, format('raw.%I', 'c:' || v_col), v_type);
        END IF;

        v_value_cols := v_value_cols || format(', %s AS %I', v_value, v_col);
        v_error_cols := v_error_cols || format(', %s AS %I', v_error, 'e:' || v_col);
        -- Errors name the field as the writer knows it: its raw key.
        v_error_fold := v_error_fold || format(' || pgstaging.field_error(%L, checked.%I)',
            coalesce(v_field ->> 'label', v_field ->> 'source', v_col), 'e:' || v_col);
        v_columns := v_columns || v_col::text;
        v_prod_defs := v_prod_defs || format(', %I %s%s', v_col, v_sql_type,
            CASE WHEN coalesce((v_field ->> 'required')::boolean, false) OR v_field ? 'default' THEN ' NOT NULL' ELSE '' END);
    END LOOP;

    -- Natural key expressions: as judged (j.), as an arbiter, as a match.
    FOR v_key IN SELECT jsonb_array_elements_text(p_spec -> 'natural_key') LOOP
        IF NOT v_key = ANY (v_columns) THEN
            RAISE EXCEPTION 'pgstaging: natural key column "%" is not a field of "%"', v_key, v_table USING ERRCODE = '22023';
        END IF;
        -- A NULL never equals anything: a key that may be NULL could never
        -- be found again, and each promotion would add another row.
        IF NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p_spec -> 'fields') AS f
                       WHERE f.value ->> 'column' = v_key
                         AND (coalesce((f.value ->> 'required')::boolean, false) OR f.value ? 'default')) THEN
            RAISE EXCEPTION 'pgstaging: natural key column "%" of "%" must be required or have a default', v_key, v_table
                USING ERRCODE = '22023';
        END IF;
        IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_spec -> 'fields') AS f
                   WHERE f.value ->> 'column' = v_key AND (f.value ->> 'case_insensitive')::boolean) THEN
            v_key_j := v_key_j || format('lower(j.%I)', v_key);
            v_key_conflict := v_key_conflict || format('lower(%I)', v_key);
            v_key_match := v_key_match || format('lower(p.%1$I) = lower(j.%1$I)', v_key);
        ELSE
            v_key_j := v_key_j || format('j.%I', v_key);
            v_key_conflict := v_key_conflict || format('%I', v_key);
            v_key_match := v_key_match || format('p.%1$I = j.%1$I', v_key);
        END IF;
    END LOOP;

    -- Row rules run only on rows whose fields all passed.
    FOR v_rule IN SELECT jsonb_array_elements(coalesce(p_spec -> 'rules', '[]')) LOOP
        v_rule_fold := v_rule_fold || format(
            ' || CASE WHEN folded.field_errors = ''[]'' AND (%s) IS FALSE THEN pgstaging.field_error(%L, %L) ELSE ''[]'' END',
            v_rule ->> 'check', v_rule ->> 'field', v_rule ->> 'error');
    END LOOP;

    PERFORM pgstaging.check_adoption(p_spec);  -- hook(adopt): an existing table is checked and its changes reported first
    -- Production table: created where absent, completed where it exists.
    EXECUTE format(
        'CREATE TABLE IF NOT EXISTS %I (%I bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY%s,'
        ' created_by_staging_id bigint, created_by_interaction_id bigint,'
        ' created_at timestamptz NOT NULL DEFAULT now(),'
        ' updated_by_staging_id bigint, updated_by_interaction_id bigint, updated_at timestamptz,'
        ' enabled boolean NOT NULL DEFAULT true, invalidated boolean NOT NULL DEFAULT false)',
        v_table, v_id, v_prod_defs);
    v_prod := format('%I.%I', v_schema, v_table)::regclass;
    FOREACH v_col IN ARRAY v_columns LOOP
        SELECT pgstaging.spec_sql_type(coalesce(f.value ->> 'type', 'text')) INTO v_sql_type
        FROM jsonb_array_elements(p_spec -> 'fields') AS f WHERE f.value ->> 'column' = v_col;
        EXECUTE format('ALTER TABLE %s ADD COLUMN IF NOT EXISTS %I %s', v_prod, v_col,
            CASE WHEN EXISTS (SELECT 1 FROM jsonb_array_elements(p_spec -> 'fields') AS f
                              WHERE f.value ->> 'column' = v_col AND f.value ? 'references')
                 THEN 'bigint' ELSE v_sql_type END);
    END LOOP;
    EXECUTE format(
        'ALTER TABLE %s ADD COLUMN IF NOT EXISTS created_by_staging_id bigint,'
        ' ADD COLUMN IF NOT EXISTS created_by_interaction_id bigint,'
        ' ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now(),'
        ' ADD COLUMN IF NOT EXISTS updated_by_staging_id bigint,'
        ' ADD COLUMN IF NOT EXISTS updated_by_interaction_id bigint,'
        ' ADD COLUMN IF NOT EXISTS updated_at timestamptz,'
        ' ADD COLUMN IF NOT EXISTS enabled boolean NOT NULL DEFAULT true,'
        ' ADD COLUMN IF NOT EXISTS invalidated boolean NOT NULL DEFAULT false', v_prod);

    -- Staging table: the design's columns plus provenance and verdict detail.
    EXECUTE format($ddl$
        CREATE TABLE IF NOT EXISTS %1$I (
            staging_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            workflow_run_id integer NOT NULL REFERENCES workflow_runs (workflow_run_id),
            actor_id integer REFERENCES actors (actor_id),
            interaction_id bigint,
            raw_data jsonb NOT NULL,
            validated boolean NOT NULL DEFAULT false,
            validation_errors jsonb,
            validated_at timestamptz,
            validated_by name,
            rule_version integer,
            promoted boolean NOT NULL DEFAULT false,
            promoted_to_id bigint,
            promoted_at timestamptz,
            outcome text,
            rolled_back_at timestamptz,
            rolled_back_by name,
            rollback_reason text,
            supersedes_staging_id bigint REFERENCES %1$I (staging_id),
            inserted_by name NOT NULL DEFAULT session_user,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT %2$I CHECK (outcome IN ('promoted', 'duplicate', 'updated', 'failed', 'rolled_back')),
            CONSTRAINT %3$I CHECK (
                (outcome IS NULL AND NOT validated AND NOT promoted)
                OR (outcome = 'failed' AND validated AND NOT promoted AND validation_errors IS NOT NULL)
                OR (outcome = 'rolled_back' AND validated AND NOT promoted AND rolled_back_at IS NOT NULL)
                OR (outcome IN ('promoted', 'duplicate', 'updated') AND validated AND promoted AND promoted_to_id IS NOT NULL)
            )
        )$ddl$, v_staging, v_staging || '_outcome_check', v_staging || '_verdict_check');
    v_stage := format('%I.%I', v_schema, v_staging)::regclass;
    EXECUTE format('COMMENT ON TABLE %s IS %L', v_stage,
        format('pgstaging: raw %s rows from script actors; judged by promote_%s(run_id)', v_table, v_staging));
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (workflow_run_id)', v_staging || '_run_idx', v_stage);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (actor_id)', v_staging || '_actor_idx', v_stage);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (supersedes_staging_id)', v_staging || '_supersedes_idx', v_stage);
    -- Pending rows: batch mode and the health view find them without a scan.
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (staging_id) WHERE outcome IS NULL', v_staging || '_pending_idx', v_stage);

    EXECUTE format($ddl$
        CREATE OR REPLACE TRIGGER %I BEFORE INSERT ON %s FOR EACH ROW
        WHEN (new.validated OR new.promoted OR new.outcome IS NOT NULL
              OR new.validation_errors IS NOT NULL OR new.validated_at IS NOT NULL OR new.validated_by IS NOT NULL
              OR new.rule_version IS NOT NULL
              OR new.promoted_to_id IS NOT NULL OR new.promoted_at IS NOT NULL
              OR new.rolled_back_at IS NOT NULL OR new.rolled_back_by IS NOT NULL OR new.rollback_reason IS NOT NULL
              OR new.inserted_by IS DISTINCT FROM session_user OR new.created_at IS DISTINCT FROM now())
        EXECUTE FUNCTION pgstaging.refuse_forged_staging_row()$ddl$, v_staging || '_refuse_forged', v_stage);
    EXECUTE format($ddl$
        CREATE OR REPLACE TRIGGER %I BEFORE INSERT ON %s FOR EACH ROW
        WHEN (new.supersedes_staging_id IS NOT NULL)
        EXECUTE FUNCTION pgstaging.refuse_foreign_restage()$ddl$, v_staging || '_restage_owner_only', v_stage);
    EXECUTE format($ddl$
        CREATE OR REPLACE TRIGGER %I
        BEFORE UPDATE OF raw_data, staging_id, workflow_run_id, actor_id, interaction_id,
            supersedes_staging_id, inserted_by, created_at
        ON %s FOR EACH ROW
        WHEN (old.raw_data IS DISTINCT FROM new.raw_data
              OR old.staging_id IS DISTINCT FROM new.staging_id
              OR old.workflow_run_id IS DISTINCT FROM new.workflow_run_id
              OR old.actor_id IS DISTINCT FROM new.actor_id
              OR old.interaction_id IS DISTINCT FROM new.interaction_id
              OR old.supersedes_staging_id IS DISTINCT FROM new.supersedes_staging_id
              OR old.inserted_by IS DISTINCT FROM new.inserted_by
              OR old.created_at IS DISTINCT FROM new.created_at)
        EXECUTE FUNCTION pgstaging.refuse_staging_rewrite()$ddl$, v_staging || '_refuse_rewrite', v_stage);
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE UPDATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION pgstaging.guard_pgstaging_writes()',
        v_staging || '_guard_update', v_stage);
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE DELETE OR TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION pgstaging.guard_staging_removal()',
        v_staging || '_guard_removal', v_stage);

    -- Production: audit foreign keys (indexed), references, natural key, guard.
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = v_prod AND conname = v_table || '_created_by_staging_id_fkey') THEN
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (created_by_staging_id) REFERENCES %s (staging_id)',
            v_prod, v_table || '_created_by_staging_id_fkey', v_stage);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = v_prod AND conname = v_table || '_updated_by_staging_id_fkey') THEN
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (updated_by_staging_id) REFERENCES %s (staging_id)',
            v_prod, v_table || '_updated_by_staging_id_fkey', v_stage);
    END IF;
    -- Without these, deleting staged rows scans production once per row.
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (created_by_staging_id)', v_table || '_created_by_staging_idx', v_prod);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (updated_by_staging_id)', v_table || '_updated_by_staging_idx', v_prod);
    FOR v_field IN SELECT f.value FROM jsonb_array_elements(p_spec -> 'fields') AS f WHERE f.value ? 'references' LOOP
        v_col := v_field ->> 'column';
        IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = v_prod AND conname = v_table || '_' || v_col || '_fkey') THEN
            EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES %s (%I)',
                v_prod, v_table || '_' || v_col || '_fkey', v_col,
                (v_field -> 'references' ->> 'table')::regclass, v_field -> 'references' ->> 'id');
        END IF;
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (%I)', v_table || '_' || v_col || '_idx', v_prod, v_col);
    END LOOP;
    -- A changed key (columns, or case sensitivity) replaces pgstaging's
    -- unique key; the new one is built on the existing rows.
    SELECT t.spec INTO v_old FROM pgstaging.staged_tables AS t WHERE t.table_name = v_table;
    IF v_old IS NOT NULL AND pgstaging.spec_key_sql(v_old) IS DISTINCT FROM pgstaging.spec_key_sql(p_spec) THEN
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', v_prod, v_table || '_natural_key');
        EXECUTE format('DROP INDEX IF EXISTS %I.%I', v_schema, v_table || '_natural_key');
    END IF;
    IF v_key_conflict = ARRAY(SELECT format('%I', k) FROM jsonb_array_elements_text(p_spec -> 'natural_key') AS k) THEN
        IF NOT EXISTS (
            SELECT 1 FROM pg_constraint AS c
            WHERE c.conrelid = v_prod AND c.contype IN ('u', 'p')
              AND c.conkey::smallint[] = ARRAY(
                  SELECT a.attnum FROM jsonb_array_elements_text(p_spec -> 'natural_key') WITH ORDINALITY AS k (name, ord)
                  JOIN pg_attribute AS a ON a.attrelid = v_prod AND a.attname = k.name ORDER BY k.ord)::smallint[]
        ) THEN
            EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I UNIQUE (%s)', v_prod, v_table || '_natural_key',
                array_to_string(v_key_conflict, ', '));
        END IF;
    ELSE
        EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS %I ON %s (%s)', v_table || '_natural_key', v_prod,
            array_to_string(v_key_conflict, ', '));
    END IF;
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION pgstaging.guard_pgstaging_writes()',
        v_table || '_guard_writes', v_prod);
    IF v_policy = 'update' THEN
        EXECUTE format($ddl$
            CREATE OR REPLACE TRIGGER %I AFTER UPDATE ON %s FOR EACH ROW
            WHEN (new.updated_by_staging_id IS NOT NULL AND new.updated_by_staging_id IS DISTINCT FROM old.updated_by_staging_id)
            EXECUTE FUNCTION pgstaging.capture_preimage(%L, %L)$ddl$, v_table || '_capture_preimage', v_prod, v_table, v_id);
    ELSE
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', v_table || '_capture_preimage', v_prod);
    END IF;
    EXECUTE format('COMMENT ON TABLE %s IS %L', v_prod,
        format('pgstaging: production %s; written only by promote_%s_staging(run_id)', v_table, v_table));

    -- The judge query; {filter} is replaced by each statement's WHERE.
    -- Levels: raw (keys, candidates), checked (values, error codes, lookups),
    -- folded (errors as jsonb); rules see the normalized columns by name.
    -- OFFSET 0 keeps each level's expressions computed once per row.
    v_judge := format($sql$
        SELECT folded.staging_id, folded.workflow_run_id, folded.interaction_id, folded.outcome, folded.validated%1$s,
               nullif(folded.field_errors%2$s, '[]'::jsonb) AS errors
        FROM (
            SELECT checked.staging_id, checked.workflow_run_id, checked.interaction_id, checked.outcome,
                   checked.validated%1$s,
                   CASE WHEN NOT checked.is_object THEN pgstaging.field_error('raw_data', 'not an object')
                        WHEN %11$s THEN '[]'::jsonb
                        ELSE '[]'::jsonb%3$s END AS field_errors
            FROM (
                SELECT raw.staging_id, raw.workflow_run_id, raw.interaction_id, raw.outcome, raw.validated,
                       raw.is_object%4$s%5$s
                FROM (
                    SELECT s.staging_id, s.workflow_run_id, s.interaction_id, s.outcome, s.validated,
                           jsonb_typeof(s.raw_data) = 'object' AS is_object%6$s%7$s
                    FROM %8$s AS s
                    CROSS JOIN LATERAL jsonb_to_record(
                        CASE WHEN jsonb_typeof(s.raw_data) = 'object' THEN s.raw_data ELSE '{}'::jsonb END
                    ) AS r (%9$s)
                    WHERE {filter}
                    OFFSET 0
                ) AS raw%10$s
                OFFSET 0
            ) AS checked
            OFFSET 0
        ) AS folded$sql$,
        (SELECT string_agg(format(', %I', c), '') FROM unnest(v_columns) AS c),
        v_rule_fold,
        v_error_fold,
        v_value_cols,
        v_error_cols,
        (SELECT string_agg(format(', r.%I', k), '') FROM unnest(v_all_keys) AS k),
        v_cand_cols,
        pgstaging.qualified_name(v_stage),
        substr(v_record_cols, 3),
        v_joins,
        -- Most rows are valid: skip building the error array for them.
        (SELECT string_agg(format('checked.%I IS NULL', 'e:' || c), ' AND ') FROM unnest(v_columns) AS c));

    -- The judged view: the rules, readable by anyone who may read staging.
    -- Replaced in place, so that views users build on it survive a
    -- re-install; only a spec that changes its columns drops it (and a
    -- dependent view then refuses, 2BP01, rather than being dropped).
    BEGIN
        EXECUTE format('CREATE OR REPLACE VIEW pgstaging.%I AS %s', v_staging || '_judged', replace(v_judge, '{filter}', 'true'));
    EXCEPTION WHEN invalid_table_definition THEN
        EXECUTE format('DROP VIEW pgstaging.%I', v_staging || '_judged');
        EXECUTE format('CREATE VIEW pgstaging.%I AS %s', v_staging || '_judged', replace(v_judge, '{filter}', 'true'));
    END;
    EXECUTE format('COMMENT ON VIEW pgstaging.%I IS %L', v_staging || '_judged',
        format('pgstaging: %s rules; one row per staged row with normalized fields and errors', v_table));

    -- The generated statements. $1 run (or NULL), $2 mode (pending|retry),
    -- $3 rule version, $4 staging ids (batch mode, or NULL).
    v_filter := '($1 IS NULL OR s.workflow_run_id = $1) AND ($4 IS NULL OR s.staging_id = ANY ($4))'
        || ' AND CASE WHEN $2 = ''retry'' THEN s.outcome IN (''failed'', ''rolled_back'') ELSE s.outcome IS NULL END';
    v_judge := replace(v_judge, '{filter}', v_filter);
    v_col_list := (SELECT string_agg(format('%I', c), ', ') FROM unnest(v_columns) AS c);
    v_j_list := (SELECT string_agg(format('j.%I', c), ', ') FROM unnest(v_columns) AS c);
    v_changed := format('(%s) IS DISTINCT FROM (%s)',
        (SELECT string_agg(format('p.%I', c), ', ') FROM unnest(v_columns) AS c),
        (SELECT string_agg(format('excluded.%I', c), ', ') FROM unnest(v_columns) AS c));

    -- The summary of one statement's marked rows, in the design's form:
    -- exact counts (one pass), and per outcome the first $5 rows by
    -- staging_id (a top-N sort each, not a sort of the whole run).
    v_summary := format($sql$
        counted AS (
            SELECT count(*) FILTER (WHERE m.outcome = 'promoted') AS promoted,
                   count(*) FILTER (WHERE m.outcome = 'duplicate') AS duplicate,
                   count(*) FILTER (WHERE m.outcome = 'updated') AS updated,
                   count(*) FILTER (WHERE m.outcome = 'failed') AS failed
            FROM marked AS m
        )
        SELECT jsonb_build_object(
            'status', 'SUCCESS',
            'promoted_count', c.promoted,
            'duplicate_count', c.duplicate,%2$s
            'failed_count', c.failed,
            'details', jsonb_build_object(%1$s)
        ) || CASE WHEN greatest(c.promoted, c.duplicate, c.updated, c.failed) > $5
                  THEN jsonb_build_object('details_truncated', true) ELSE '{}' END
        FROM counted AS c$sql$,
        (SELECT string_agg(format($sql$
                %1$L, (SELECT coalesce(jsonb_agg(jsonb_build_object('staging_id', d.staging_id, %3$L, d.%4$s) ORDER BY d.staging_id), '[]')
                    FROM (SELECT m.staging_id, m.%4$s FROM marked AS m WHERE m.outcome = %2$L ORDER BY m.staging_id LIMIT $5) AS d)$sql$,
                l.list, l.outcome, l.label, l.value), ',' ORDER BY l.ord)
         FROM (VALUES (1, 'promoted', 'promoted', v_id, 'promoted_to_id'),
                      (2, 'duplicates', 'duplicate', v_id, 'promoted_to_id'),
                      (3, 'failed', 'failed', 'errors', 'validation_errors'),
                      (4, 'updated', 'updated', v_id, 'promoted_to_id')) AS l (ord, list, outcome, label, value)
         WHERE l.outcome <> 'updated' OR v_policy = 'update'),
        -- The update policy adds updated_count and details.updated.
        CASE WHEN v_policy = 'update' THEN $sql$
            'updated_count', c.updated,$sql$ ELSE '' END);

    -- Marking: one UPDATE of staging (%1$s) from the verdicts {verdicts}
    -- give (staging_id, errors, production_id, outcome), then the summary.
    -- Joined by staging_id alone: the verdicts come from rows the judge
    -- already chose by mode, and whoever judges a run's rows holds its run
    -- lock, so none can change in between. A second "outcome IS NULL" here
    -- would match the pending index, which statistics taken when nothing
    -- was pending put at one row: the planner then drives a nested loop
    -- from it and rescans the verdicts per row.
    v_mark := $sql$
        marked AS (
            UPDATE %1$s AS s
            SET validated = true,
                validated_at = now(),
                validated_by = session_user,
                rule_version = $3,
                validation_errors = v.errors,
                promoted = v.errors IS NULL,
                promoted_to_id = v.production_id,
                promoted_at = CASE WHEN v.errors IS NULL THEN now() END,
                rolled_back_at = NULL,
                rolled_back_by = NULL,
                rollback_reason = NULL,
                outcome = v.outcome
            FROM {verdicts} AS v
            WHERE s.staging_id = v.staging_id
            RETURNING s.staging_id, s.outcome, s.promoted_to_id, s.validation_errors
        ),%2$s$sql$;

    -- Statement 1 judges the pending rows: valid rows, one per key (the
    -- first staged under skip, the newest under update), go into production
    -- in key order (so concurrent validators of overlapping runs cannot
    -- deadlock), and the rows it wrote are marked promoted (or updated)
    -- straight from RETURNING, joined by staging_id only: no join between
    -- the statement's own results, which the planner cannot estimate.
    v_insert := format($sql$
        WITH inserted AS (
            INSERT INTO %1$s AS p (%2$s, created_by_staging_id, created_by_interaction_id)
            SELECT DISTINCT ON (%3$s) %4$s, j.staging_id, j.interaction_id
            FROM (%5$s) AS j
            WHERE j.errors IS NULL
            ORDER BY %3$s, j.staging_id%10$s
            ON CONFLICT (%6$s) DO %7$s
            RETURNING p.%8$I AS production_id, %9$s
        ),$sql$,
        pgstaging.qualified_name(v_prod), v_col_list, array_to_string(v_key_j, ', '), v_j_list, v_judge,
        array_to_string(v_key_conflict, ', '),
        CASE v_policy WHEN 'skip' THEN 'NOTHING' ELSE format(
            'UPDATE SET (%s, updated_by_staging_id, updated_by_interaction_id, updated_at) = ROW(%s, excluded.created_by_staging_id, excluded.created_by_interaction_id, now()) WHERE %s',
            v_col_list, (SELECT string_agg(format('excluded.%I', c), ', ') FROM unnest(v_columns) AS c), v_changed) END,
        v_id,
        -- An inserted row has no updated_by_staging_id; an updated one has ours.
        CASE v_policy WHEN 'skip' THEN 'p.created_by_staging_id AS staging_id, ''promoted'' AS outcome'
            ELSE 'coalesce(p.updated_by_staging_id, p.created_by_staging_id) AS staging_id,'
                 ' CASE WHEN p.updated_by_staging_id IS NULL THEN ''promoted'' ELSE ''updated'' END AS outcome' END,
        -- skip: the first staged row of a key wins; update: the newest.
        CASE v_policy WHEN 'skip' THEN '' ELSE ' DESC' END)
        -- In staging_id order: staging's physical order.
        || format(replace(v_mark, '{verdicts}',
            '(SELECT i.staging_id, NULL::jsonb AS errors, i.production_id, i.outcome FROM inserted AS i ORDER BY i.staging_id)'),
            pgstaging.qualified_name(v_stage), v_summary);

    -- Statement 2, with a fresh snapshot, gives the rest their verdicts:
    -- failures, and valid rows whose key production already has
    -- (duplicates). A valid row whose key has no production row yet (staged
    -- after statement 1's snapshot) stays pending.
    v_verdict := format($sql$
        WITH verdict AS (
            SELECT j.staging_id, j.errors, p.%1$I AS production_id,
                   CASE WHEN j.errors IS NOT NULL THEN 'failed'
                        WHEN p.created_by_staging_id = j.staging_id THEN 'promoted'
                        WHEN p.updated_by_staging_id = j.staging_id THEN 'updated'
                        ELSE 'duplicate' END AS outcome
            FROM (%2$s) AS j
            LEFT JOIN %3$s AS p ON j.errors IS NULL AND %4$s
            WHERE j.errors IS NOT NULL OR p.%1$I IS NOT NULL
        ),$sql$,
        v_id, v_judge, pgstaging.qualified_name(v_prod), array_to_string(v_key_match, ' AND '))
        || format(replace(v_mark, '{verdicts}', 'verdict'), pgstaging.qualified_name(v_stage), v_summary);

    -- The statements run under search_path pg_catalog, pg_temp: parse them
    -- so now, so a rule naming an unqualified table (which a caller's temp
    -- table could shadow at run time) is refused here, not at promotion.
    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
    BEGIN
        EXECUTE format('PREPARE pgstaging_check_insert (integer, text, integer, bigint[], integer) AS %s', v_insert);
        DEALLOCATE pgstaging_check_insert;
        EXECUTE format('PREPARE pgstaging_check_verdict (integer, text, integer, bigint[], integer) AS %s', v_verdict);
        DEALLOCATE pgstaging_check_verdict;
    EXCEPTION WHEN undefined_table OR undefined_function OR undefined_column THEN
        RAISE EXCEPTION 'pgstaging: the rules of "%" do not compile under search_path pg_catalog, pg_temp: %', v_table, SQLERRM
            USING ERRCODE = '22023', HINT = 'Schema-qualify tables and functions in rule checks, e.g. public.banned_words.';
    END;
    PERFORM set_config('search_path', pg_catalog.format('%I, pgstaging, pg_temp', v_schema), true);

    -- Rule version: a changed spec is a new version; the same spec is not.
    SELECT t.spec, t.rule_version INTO v_old, v_version FROM pgstaging.staged_tables AS t WHERE t.table_name = v_table;
    IF v_old IS NULL THEN
        v_version := 1;
    ELSIF v_old IS DISTINCT FROM p_spec THEN
        v_version := v_version + 1;
    END IF;

    -- Entry points, thin and pinned: the logic is in pgstaging.run_promotion.
    v_fn := format('promote_%s', v_staging);
    EXECUTE format($ddl$
        CREATE OR REPLACE FUNCTION %1$I.%2$I(p_workflow_run_id integer)
        RETURNS jsonb LANGUAGE sql SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp SET "TimeZone" = 'UTC' SET "DateStyle" = 'ISO, YMD'
        SET standard_conforming_strings = on
        RETURN pgstaging.run_promotion(%3$L, p_workflow_run_id, 'promote', false)$ddl$, v_schema, v_fn, v_table);
    EXECUTE format('REVOKE ALL ON FUNCTION %I.%I(integer) FROM PUBLIC', v_schema, v_fn);
    EXECUTE format($ddl$
        CREATE OR REPLACE FUNCTION %1$I.%2$I(p_workflow_run_id integer, p_dry_run boolean)
        RETURNS jsonb LANGUAGE sql SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp SET "TimeZone" = 'UTC' SET "DateStyle" = 'ISO, YMD'
        SET standard_conforming_strings = on
        RETURN pgstaging.run_promotion(%3$L, p_workflow_run_id, 'promote', p_dry_run)$ddl$, v_schema, v_fn, v_table);
    EXECUTE format('REVOKE ALL ON FUNCTION %I.%I(integer, boolean) FROM PUBLIC', v_schema, v_fn);
    EXECUTE format('COMMENT ON FUNCTION %I.%I(integer) IS %L', v_schema, v_fn,
        format('pgstaging: validate, de-duplicate and promote one run''s pending %s; returns the design''s summary JSON', v_table));
    EXECUTE format($ddl$
        CREATE OR REPLACE FUNCTION %1$I.%2$I(p_workflow_run_id integer)
        RETURNS jsonb LANGUAGE sql SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp SET "TimeZone" = 'UTC' SET "DateStyle" = 'ISO, YMD'
        SET standard_conforming_strings = on
        RETURN pgstaging.run_promotion(%3$L, p_workflow_run_id, 'retry', false)$ddl$, v_schema, 'retry_' || v_staging, v_table);
    EXECUTE format('REVOKE ALL ON FUNCTION %I.%I(integer) FROM PUBLIC', v_schema, 'retry_' || v_staging);
    EXECUTE format('COMMENT ON FUNCTION %I.%I(integer) IS %L', v_schema, 'retry_' || v_staging,
        'pgstaging: re-judge a run''s failed rows under the current rules and data; promote those that pass');

    EXECUTE format($ddl$
        CREATE OR REPLACE FUNCTION %1$I.%2$I(p_workflow_run_id integer, p_reason text DEFAULT NULL, p_cascade boolean DEFAULT false)
        RETURNS jsonb LANGUAGE sql SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp SET "TimeZone" = 'UTC' SET "DateStyle" = 'ISO, YMD'
        SET standard_conforming_strings = on
        RETURN pgstaging.run_unpromotion(%3$L, p_workflow_run_id, p_reason, p_cascade)$ddl$, v_schema, 'unpromote_' || v_staging, v_table);
    EXECUTE format('REVOKE ALL ON FUNCTION %I.%I(integer, text, boolean) FROM PUBLIC', v_schema, 'unpromote_' || v_staging);
    EXECUTE format('COMMENT ON FUNCTION %I.%I(integer, text, boolean) IS %L', v_schema, 'unpromote_' || v_staging,
        'pgstaging: take a run''s promotions back out of production; staged rows are kept, marked rolled back');

    INSERT INTO pgstaging.staged_tables AS t (
        table_name, production_table, staging_table, promote_function, spec, rule_version, on_duplicate,
        known_keys, insert_sql, verdict_sql
    )
    VALUES (
        v_table, v_prod, v_stage, format('%I.%I(integer)', v_schema, v_fn)::regprocedure, p_spec, v_version, v_policy,
        v_all_keys, v_insert, v_verdict
    )
    ON CONFLICT (table_name) DO UPDATE
    SET production_table = excluded.production_table, staging_table = excluded.staging_table,
        promote_function = excluded.promote_function, spec = excluded.spec,
        rule_version = excluded.rule_version, on_duplicate = excluded.on_duplicate,
        known_keys = excluded.known_keys,
        insert_sql = excluded.insert_sql, verdict_sql = excluded.verdict_sql,
        registered_at = CASE WHEN t.spec IS DISTINCT FROM excluded.spec THEN now() ELSE t.registered_at END;
    INSERT INTO pgstaging.rule_versions (table_name, rule_version, spec)
    VALUES (v_table, v_version, p_spec)
    ON CONFLICT DO NOTHING;

    PERFORM pgstaging.create_health_view(v_table);
    PERFORM pgstaging.grant_staged_table(v_table);
    RETURN v_version;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.register_staged_table(jsonb) FROM PUBLIC;
