-- The generator, step 1: a checked spec as one typed row per field. Every
-- later step reads these rows; none reads the spec's fields again.
--
-- Internal names in the generated SQL are the field's column with a
-- suffix after "__" (external_job_id__candidate, job_title__error), which
-- a spec column may not contain, so they never collide and need no quotes.

CREATE OR REPLACE FUNCTION pgstaging.spec_fields(p_spec jsonb)
RETURNS TABLE (
    ord integer,
    column_name name,
    keys text [],
    label text,
    spec_type text,
    sql_type text,
    required boolean,
    not_null boolean,
    is_key boolean,
    case_insensitive boolean,
    is_reference boolean,
    ref_table text,
    ref_id name,
    raw_items text [],
    lookups text [],
    value_sql text,
    error_sql text
)
LANGUAGE plpgsql
STABLE
-- FROM CURRENT: a reference's table is found in the installer's target schema.
SET search_path FROM CURRENT
AS $function$
DECLARE
    v_field jsonb;
    v_key text;
    v_key_ord integer;
    v_ref_type text;
    v_by_column name;
    v_candidate name;
    v_lookup name;
    v_ref regclass;
BEGIN
    FOR v_field, ord IN
        SELECT f.value, f.ord::integer FROM jsonb_array_elements(p_spec -> 'fields') WITH ORDINALITY AS f (value, ord)
    LOOP
        column_name := v_field ->> 'column';
        spec_type := coalesce(v_field ->> 'type', 'text');
        sql_type := pgstaging.spec_sql_type(spec_type);
        IF column_name IS NULL OR sql_type IS NULL THEN
            RAISE EXCEPTION 'pgstaging: fields[%] of "%" needs a column and a known type', ord - 1, p_spec ->> 'table'
                USING ERRCODE = '22023', DETAIL = v_field::text,
                      HINT = 'Types: text, integer, bigint, numeric, boolean, date, timestamptz.';
        END IF;
        IF column_name LIKE '%\_\_%' OR column_name !~ '^[a-z_][a-z0-9_]*$' THEN
            RAISE EXCEPTION 'pgstaging: fields[%].column "%" must be a lower-case identifier without "__"', ord - 1, column_name
                USING ERRCODE = '22023', HINT = 'Internal names of the generated SQL use "__".';
        END IF;
        IF v_field ? 'pattern' THEN
            PERFORM '' ~ (v_field ->> 'pattern');  -- a bad pattern fails here, not per row
        END IF;
        keys := pgstaging.spec_field_keys(v_field);
        IF EXISTS (SELECT 1 FROM unnest(keys) AS k
                   WHERE k ~ '__(candidate|error|carried|current|earlier|before|raw|by_[0-9]+|found_by_[0-9]+)$') THEN
            RAISE EXCEPTION 'pgstaging: fields[%] reads a raw key named like an internal column of the generated SQL', ord - 1
                USING ERRCODE = '22023', DETAIL = array_to_string(keys, ', ');
        END IF;
        label := coalesce(v_field ->> 'label', v_field ->> 'source', column_name);
        required := coalesce((v_field ->> 'required')::boolean, false);
        not_null := required OR v_field ? 'default';
        is_key := p_spec -> 'natural_key' ? column_name;
        case_insensitive := coalesce((v_field ->> 'case_insensitive')::boolean, false);
        is_reference := v_field ? 'references';
        raw_items := '{}';
        lookups := '{}';
        ref_table := NULL;
        ref_id := NULL;

        IF is_reference THEN
            -- The first present raw key is looked up in the referenced table
            -- and resolved to its id.
            v_ref := (v_field -> 'references' ->> 'table')::regclass;
            ref_table := pgstaging.qualified_name(v_ref);
            ref_id := v_field -> 'references' ->> 'id';
            sql_type := 'bigint';
            value_sql := 'CASE';
            error_sql := 'CASE';
            FOR v_key, v_key_ord IN SELECT k.key, k.ord::integer FROM unnest(keys) WITH ORDINALITY AS k (key, ord) LOOP
                v_by_column := v_field -> 'references' -> 'by' ->> v_key;
                SELECT format_type(a.atttypid, a.atttypmod) INTO v_ref_type
                FROM pg_attribute AS a
                WHERE a.attrelid = v_ref AND a.attname = v_by_column AND NOT a.attisdropped;
                IF v_ref_type IS NULL THEN
                    RAISE EXCEPTION 'pgstaging: %.% references %, which has no column "%"',
                        p_spec ->> 'table', column_name, ref_table, v_by_column
                        USING ERRCODE = '42703';
                END IF;
                v_candidate := format('%s__by_%s', column_name, v_key_ord);
                v_lookup := format('%s__found_by_%s', column_name, v_key_ord);
                raw_items := raw_items || format('%s AS %I', pgstaging.spec_candidate_sql(
                    jsonb_build_object('column', column_name, 'accept_integer', true),
                    format('r.%I', v_key),
                    CASE WHEN v_ref_type IN ('integer', 'bigint', 'smallint') THEN 'bigint' ELSE 'text' END), v_candidate);
                lookups := lookups || format(
                    'LEFT JOIN LATERAL (SELECT t.%I AS id FROM %s AS t WHERE t.%I = raw.%I LIMIT 1) AS %I ON true',
                    ref_id, ref_table, v_by_column, v_candidate, v_lookup);
                value_sql := value_sql || format(' WHEN raw.%I IS NOT NULL THEN %I.id', v_key, v_lookup);
                error_sql := error_sql || format(
                    ' WHEN raw.%1$I IS NOT NULL THEN CASE WHEN jsonb_typeof(raw.%1$I) NOT IN (''string'', ''number'') THEN ''wrong type'''
                    ' WHEN raw.%2$I IS NULL THEN ''not an id'' WHEN %3$I.id IS NULL THEN ''not found'' END',
                    v_key, v_candidate, v_lookup);
            END LOOP;
            value_sql := value_sql || ' END';
            error_sql := error_sql || CASE WHEN required THEN ' ELSE ''missing'' END' ELSE ' END' END;
        ELSE
            v_candidate := column_name || '__candidate';
            raw_items := ARRAY[format('%s AS %I',
                pgstaging.spec_candidate_sql(v_field, format('r.%I', keys[1]), spec_type), v_candidate)];
            value_sql := format('raw.%I', v_candidate);
            IF v_field ? 'default' THEN
                value_sql := format('coalesce(%s, %L::%s)', value_sql, v_field ->> 'default', sql_type);
            END IF;
            error_sql := pgstaging.spec_error_sql(v_field, format('raw.%I', keys[1]), format('raw.%I', v_candidate), spec_type);
        END IF;
        RETURN NEXT;
    END LOOP;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.spec_fields(jsonb) FROM PUBLIC;

-- Every name the generator derives from a spec, with its kind. A name
-- over 63 bytes would be cut by PostgreSQL, and two cut names could collide
-- (one guard trigger silently replacing another): registration refuses.
CREATE OR REPLACE FUNCTION pgstaging.spec_derived_names(p_spec jsonb)
RETURNS TABLE (kind text, derived_name text)
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT n.kind, n.derived_name
    FROM (
        SELECT s.kind, s.suffix, p_spec ->> 'table' || s.suffix AS derived_name
        FROM (VALUES
            ('table', ''), ('table', '_staging'), ('view', '_staging_judged'), ('view', '_health'),
            ('constraint', '_staging_outcome_check'), ('constraint', '_staging_verdict_check'),
            ('constraint', '_staging_operation_check'),
            ('index', '_staging_run_idx'), ('index', '_staging_actor_idx'), ('index', '_staging_supersedes_idx'),
            ('index', '_staging_pending_idx'), ('index', '_staging_patch_idx'),
            ('trigger', '_staging_refuse_forged'), ('trigger', '_staging_restage_owner_only'),
            ('trigger', '_staging_refuse_rewrite'), ('trigger', '_staging_guard_update'),
            ('trigger', '_staging_guard_removal'),
            ('constraint', '_created_by_staging_id_fkey'), ('constraint', '_updated_by_staging_id_fkey'),
            ('index', '_created_by_staging_idx'), ('index', '_updated_by_staging_idx'),
            ('constraint', '_natural_key'), ('trigger', '_guard_writes'), ('trigger', '_capture_preimage')
        ) AS s (kind, suffix)
        UNION ALL
        SELECT 'function', NULL, f.prefix || (p_spec ->> 'table') || '_staging'
        FROM (VALUES ('promote_'), ('retry_'), ('unpromote_')) AS f (prefix)
        UNION ALL
        SELECT r.kind, NULL, (p_spec ->> 'table') || '_' || (f.value ->> 'column') || r.suffix
        FROM jsonb_array_elements(p_spec -> 'fields') AS f (value)
        CROSS JOIN (VALUES ('constraint', '_fkey'), ('index', '_idx')) AS r (kind, suffix)
        WHERE f.value ? 'references'
    ) AS n
$function$;

-- Refuse a spec whose longest derived name does not fit, naming it.
CREATE OR REPLACE FUNCTION pgstaging.check_spec_names(p_spec jsonb)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_kind text;
    v_name text;
BEGIN
    SELECT n.kind, n.derived_name INTO v_kind, v_name
    FROM pgstaging.spec_derived_names(p_spec) AS n
    ORDER BY octet_length(n.derived_name) DESC, n.derived_name
    LIMIT 1;
    IF octet_length(v_name) > 63 THEN
        RAISE EXCEPTION 'pgstaging: table name "%" is too long: its % "%" would be % bytes', p_spec ->> 'table',
            v_kind, v_name, octet_length(v_name)
            USING ERRCODE = '22023',
                  DETAIL = 'PostgreSQL cuts names at 63 bytes, and cut names could collide.',
                  HINT = pg_catalog.format('Use a table name of at most %s bytes.',
                                           63 - (octet_length(v_name) - octet_length(p_spec ->> 'table')));
    END IF;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.spec_derived_names(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.check_spec_names(jsonb) FROM PUBLIC;
