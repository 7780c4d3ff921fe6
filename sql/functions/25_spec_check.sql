-- Checking a spec against the spec format (sql/spec.schema.json, loaded
-- into pgstaging.spec_format at install). These run at registration only,
-- once per spec, so plain PL/pgSQL recursion is fine here.

-- Levenshtein distance (fuzzystrmatch may not be installed).
CREATE OR REPLACE FUNCTION pgstaging.edit_distance(p_a text, p_b text)
RETURNS integer
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_prev integer[];
    v_cur integer[];
    v_len_a integer := char_length(p_a);
    v_len_b integer := char_length(p_b);
BEGIN
    v_prev := ARRAY(SELECT generate_series(0, v_len_b));
    FOR v_i IN 1..v_len_a LOOP
        v_cur := ARRAY[v_i];
        FOR v_j IN 1..v_len_b LOOP
            v_cur := v_cur || least(
                v_prev[v_j + 1] + 1,
                v_cur[v_j] + 1,
                v_prev[v_j] + CASE WHEN substr(p_a, v_i, 1) = substr(p_b, v_j, 1) THEN 0 ELSE 1 END);
        END LOOP;
        v_prev := v_cur;
    END LOOP;
    RETURN v_prev[v_len_b + 1];
END
$function$;

-- The known name nearest to p_name (ties: the first in p_known), or NULL.
CREATE OR REPLACE FUNCTION pgstaging.nearest_name(p_name text, p_known text [])
RETURNS text
LANGUAGE sql
IMMUTABLE
RETURN (
    SELECT k.name FROM unnest(p_known) WITH ORDINALITY AS k (name, ord)
    ORDER BY pgstaging.edit_distance(lower(p_name), lower(k.name)), k.ord
    LIMIT 1
);

-- A JSON value's type in JSON Schema's words (an integral number is also
-- an "integer"; this returns "number" for it, see spec_type_matches).
CREATE OR REPLACE FUNCTION pgstaging.spec_type_matches(p_value jsonb, p_type text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
RETURN CASE p_type
    WHEN 'integer' THEN CASE WHEN jsonb_typeof(p_value) = 'number' THEN p_value::numeric = trunc(p_value::numeric) ELSE false END
    ELSE jsonb_typeof(p_value) = p_type
END;

-- Check p_value against p_schema (a subset of JSON Schema: type, enum,
-- properties, additionalProperties, required, items, $ref "#/$defs/..."),
-- p_root holding the $defs. Refuses with 22023, naming the path
-- (fields[2].max_lenght) and, for an unknown key or value, the nearest
-- known one.
CREATE OR REPLACE FUNCTION pgstaging.spec_check(p_schema jsonb, p_value jsonb, p_path text, p_root jsonb)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_schema jsonb := p_schema;
    v_types text[];
    v_key text;
    v_item jsonb;
    v_ord integer;
    v_known text[];
    v_near text;
    v_where text := CASE WHEN p_path = '' THEN 'the spec' ELSE p_path END;
BEGIN
    WHILE v_schema ? '$ref' LOOP
        v_schema := p_root #> string_to_array(substr(v_schema ->> '$ref', 3), '/');
    END LOOP;
    IF v_schema ? 'type' THEN
        v_types := CASE jsonb_typeof(v_schema -> 'type') WHEN 'array'
            THEN ARRAY(SELECT jsonb_array_elements_text(v_schema -> 'type')) ELSE ARRAY[v_schema ->> 'type'] END;
        IF NOT EXISTS (SELECT 1 FROM unnest(v_types) AS t WHERE pgstaging.spec_type_matches(p_value, t)) THEN
            RAISE EXCEPTION 'pgstaging: % must be % %, not %', v_where,
                CASE WHEN v_types[1] ~ '^[aeiou]' THEN 'an' ELSE 'a' END, array_to_string(v_types, ' or '),
                CASE WHEN jsonb_typeof(p_value) = 'null' THEN 'null'
                     WHEN jsonb_typeof(p_value) IN ('array', 'object') THEN 'an ' || jsonb_typeof(p_value)
                     ELSE 'a ' || jsonb_typeof(p_value) END
                USING ERRCODE = '22023', DETAIL = format('%s: %s', v_where, left(p_value::text, 200));
        END IF;
    END IF;
    IF v_schema ? 'enum' AND NOT v_schema -> 'enum' @> jsonb_build_array(p_value) THEN
        v_known := ARRAY(SELECT e #>> '{}' FROM jsonb_array_elements(v_schema -> 'enum') AS e WHERE jsonb_typeof(e) = 'string');
        v_near := CASE WHEN jsonb_typeof(p_value) = 'string' THEN pgstaging.nearest_name(p_value #>> '{}', v_known) END;
        RAISE EXCEPTION 'pgstaging: % is %, which is not one of: %', v_where, p_value,
            (SELECT string_agg(e::text, ', ') FROM jsonb_array_elements(v_schema -> 'enum') AS e)
            || CASE WHEN v_near IS NOT NULL THEN format('; did you mean "%s"?', v_near) ELSE '' END
            USING ERRCODE = '22023', HINT = 'The spec format is sql/spec.schema.json.';
    END IF;
    IF jsonb_typeof(p_value) = 'object' THEN
        v_known := ARRAY(SELECT jsonb_object_keys(coalesce(v_schema -> 'properties', '{}')));
        FOR v_key IN SELECT jsonb_object_keys(p_value) LOOP
            IF v_key = ANY (v_known) THEN
                PERFORM pgstaging.spec_check(v_schema -> 'properties' -> v_key, p_value -> v_key,
                    CASE WHEN p_path = '' THEN v_key ELSE p_path || '.' || v_key END, p_root);
            ELSIF v_schema -> 'additionalProperties' = 'false' THEN
                v_near := pgstaging.nearest_name(v_key, v_known);
                RAISE EXCEPTION 'pgstaging: unknown key %; did you mean "%"?',
                    CASE WHEN p_path = '' THEN v_key ELSE p_path || '.' || v_key END, v_near
                    USING ERRCODE = '22023',
                          DETAIL = format('Known keys here: %s.', array_to_string(v_known, ', ')),
                          HINT = 'The spec format is sql/spec.schema.json.';
            ELSIF jsonb_typeof(v_schema -> 'additionalProperties') = 'object' THEN
                PERFORM pgstaging.spec_check(v_schema -> 'additionalProperties', p_value -> v_key,
                    CASE WHEN p_path = '' THEN v_key ELSE p_path || '.' || v_key END, p_root);
            END IF;
        END LOOP;
    END IF;
    -- Missing keys after unknown ones: a misspelt key is named as such.
    IF jsonb_typeof(p_value) = 'object' THEN
        FOR v_key IN SELECT jsonb_array_elements_text(coalesce(v_schema -> 'required', '[]')) LOOP
            IF NOT p_value ? v_key THEN
                RAISE EXCEPTION 'pgstaging: % needs "%"', v_where, v_key
                    USING ERRCODE = '22023', HINT = 'The spec format is sql/spec.schema.json.';
            END IF;
        END LOOP;
    END IF;
    IF jsonb_typeof(p_value) = 'array' AND v_schema ? 'items' THEN
        FOR v_item, v_ord IN SELECT e.value, e.ord - 1 FROM jsonb_array_elements(p_value) WITH ORDINALITY AS e (value, ord) LOOP
            PERFORM pgstaging.spec_check(v_schema -> 'items', v_item, format('%s[%s]', p_path, v_ord), p_root);
        END LOOP;
    END IF;
END
$function$;
