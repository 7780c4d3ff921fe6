-- JSON Schema in: a spec may give its fields as "json_schema", a draft
-- 2020-12 object schema. normalize_spec checks a spec against the spec
-- format and compiles a JSON Schema into native fields with the options
-- that carry JSON Schema's meaning (convert false, nullable, allow_empty,
-- exclusive bounds), so both forms run through the same SQL builders.

-- An RFC 3339 date-time (JSON Schema's "date-time"): T or t, seconds,
-- Z or a numeric offset; a leap second only at 23:59:60 UTC.
CREATE OR REPLACE FUNCTION pgstaging.is_rfc3339_timestamp(p_value text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN p_value !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$'
        THEN false
    WHEN NOT pgstaging.is_iso_date(substr(p_value, 1, 10)) THEN false
    WHEN substr(p_value, 12, 2)::integer > 23 OR substr(p_value, 15, 2)::integer > 59 THEN false
    WHEN p_value ~ '[+-][0-9]{2}:[0-9]{2}$'
        AND (substr(p_value, char_length(p_value) - 4, 2)::integer > 23 OR right(p_value, 2)::integer > 59) THEN false
    WHEN substr(p_value, 18, 2)::integer < 60 THEN true
    WHEN substr(p_value, 18, 2)::integer > 60 THEN false
    -- A leap second: the time in UTC must be 23:59.
    ELSE (substr(p_value, 12, 2)::integer * 60 + substr(p_value, 15, 2)::integer
          - CASE WHEN p_value ~ '[+-][0-9]{2}:[0-9]{2}$'
                 THEN (CASE WHEN substr(p_value, char_length(p_value) - 5, 1) = '-' THEN -1 ELSE 1 END)
                      * (substr(p_value, char_length(p_value) - 4, 2)::integer * 60 + right(p_value, 2)::integer)
                 ELSE 0 END
          + 1440) % 1440 = 23 * 60 + 59
END;

-- True when a JSON value can be a value of a native field type under
-- "convert": false (the value itself, no conversion).
CREATE OR REPLACE FUNCTION pgstaging.json_fits_type(p_value jsonb, p_type text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
RETURN CASE p_type
    WHEN 'text' THEN jsonb_typeof(p_value) = 'string'
    WHEN 'bigint' THEN CASE WHEN jsonb_typeof(p_value) = 'number'
        THEN p_value::numeric = trunc(p_value::numeric) AND p_value::numeric BETWEEN -9223372036854775808 AND 9223372036854775807
        ELSE false END
    WHEN 'numeric' THEN jsonb_typeof(p_value) = 'number'
    WHEN 'boolean' THEN jsonb_typeof(p_value) = 'boolean'
    WHEN 'date' THEN CASE WHEN jsonb_typeof(p_value) = 'string' THEN pgstaging.is_iso_date(p_value #>> '{}') ELSE false END
    WHEN 'timestamptz' THEN CASE WHEN jsonb_typeof(p_value) = 'string' THEN pgstaging.is_rfc3339_timestamp(p_value #>> '{}') ELSE false END
    ELSE false
END;

-- A JSON value as a native scalar of its field type (integers without a
-- fractional part: 1.0 becomes 1).
CREATE OR REPLACE FUNCTION pgstaging.json_native_scalar(p_value jsonb, p_type text)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
RETURN CASE WHEN p_type = 'bigint' THEN to_jsonb(trunc(p_value::numeric)) ELSE p_value END;

-- The native fields of a JSON Schema object schema (properties in jsonb key
-- order). p_path names the schema in errors (json_schema).
CREATE OR REPLACE FUNCTION pgstaging.json_schema_fields(p_schema jsonb, p_path text DEFAULT 'json_schema')
RETURNS jsonb
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_required text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(p_schema -> 'required', '[]')));
    v_fields jsonb := '[]';
    v_name text;
    v_prop jsonb;
    v_x jsonb;
    v_path text;
    v_types text[];
    v_json_type text;
    v_nullable boolean;
    v_type text;
    v_field jsonb;
    v_key text;
    v_value jsonb;
BEGIN
    FOREACH v_name IN ARRAY v_required LOOP
        IF NOT coalesce(p_schema -> 'properties', '{}') ? v_name THEN
            RAISE EXCEPTION 'pgstaging: %.required names "%", which is not in %.properties', p_path, v_name, p_path
                USING ERRCODE = '22023', HINT = 'pgstaging fields are typed: give every required property a schema.';
        END IF;
    END LOOP;
    FOR v_name, v_prop IN SELECT p.key, p.value FROM jsonb_each(coalesce(p_schema -> 'properties', '{}')) AS p LOOP
        v_path := format('%s.properties.%s', p_path, v_name);
        v_x := coalesce(v_prop -> 'x-pgstaging', '{}');
        v_types := CASE jsonb_typeof(v_prop -> 'type') WHEN 'array'
            THEN ARRAY(SELECT jsonb_array_elements_text(v_prop -> 'type')) ELSE ARRAY[v_prop ->> 'type'] END;
        v_nullable := 'null' = ANY (v_types);
        v_json_type := (SELECT t FROM unnest(v_types) AS t WHERE t <> 'null' LIMIT 1);
        -- format, like minLength, applies to strings only: JSON Schema
        -- ignores it on a property of another type, and so does this.
        v_type := CASE v_json_type
            WHEN 'string' THEN CASE v_prop ->> 'format' WHEN 'date' THEN 'date' WHEN 'date-time' THEN 'timestamptz' ELSE 'text' END
            WHEN 'integer' THEN 'bigint'
            WHEN 'number' THEN 'numeric'
            WHEN 'boolean' THEN 'boolean'
        END;
        IF v_name = ANY (v_required) AND v_nullable THEN
            RAISE EXCEPTION 'pgstaging: % is required and allows null: a required field''s column is NOT NULL', v_path
                USING ERRCODE = '22023', HINT = 'Drop "null" from its type, or drop it from "required".';
        END IF;
        v_field := jsonb_build_object('column', coalesce(v_x ->> 'column', v_name));
        IF v_x ->> 'column' IS DISTINCT FROM v_name AND v_x ? 'column' THEN
            v_field := v_field || jsonb_build_object('source', v_name);
        END IF;
        IF v_name = ANY (v_required) THEN
            v_field := v_field || '{"required": true}';
        END IF;
        IF v_x ? 'references' THEN
            -- A reference reads the raw keys of references.by, as natively.
            v_fields := v_fields || jsonb_build_array(v_field || jsonb_build_object('references', v_x -> 'references'));
            CONTINUE;
        END IF;
        v_field := v_field || jsonb_build_object('type', v_type, 'convert', false, 'allow_empty', true,
            'normalize', coalesce(v_x -> 'normalize', '[]'));
        IF v_x ? 'accept_integer' THEN
            v_field := v_field || jsonb_build_object('accept_integer', v_x -> 'accept_integer');
        END IF;
        IF v_x ? 'case_insensitive' THEN
            v_field := v_field || jsonb_build_object('case_insensitive', v_x -> 'case_insensitive');
        END IF;
        -- String keywords apply to strings only (JSON Schema ignores them
        -- for other types); lengths count code points, as char_length does.
        FOR v_key IN SELECT k FROM unnest(ARRAY['minLength', 'maxLength', 'pattern']) AS k WHERE v_prop ? k LOOP
            CONTINUE WHEN v_json_type <> 'string';
            IF v_type <> 'text' THEN
                RAISE EXCEPTION 'pgstaging: %.% is not supported with format %', v_path, v_key, v_prop ->> 'format'
                    USING ERRCODE = '22023';
            END IF;
            v_value := v_prop -> v_key;
            IF v_key <> 'pattern' AND (v_value::numeric < 0 OR v_value::numeric <> trunc(v_value::numeric)) THEN
                RAISE EXCEPTION 'pgstaging: %.% must be a non-negative integer', v_path, v_key USING ERRCODE = '22023';
            END IF;
            v_field := v_field || jsonb_build_object(
                CASE v_key WHEN 'minLength' THEN 'min_length' WHEN 'maxLength' THEN 'max_length' ELSE 'pattern' END,
                CASE WHEN v_key = 'pattern' THEN v_value ELSE to_jsonb(trunc(v_value::numeric)) END);
        END LOOP;
        -- Numeric bounds apply to numbers only.
        IF v_type IN ('bigint', 'numeric') THEN
            FOR v_key IN SELECT k FROM unnest(ARRAY['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum']) AS k WHERE v_prop ? k LOOP
                v_field := v_field || jsonb_build_object(
                    CASE v_key WHEN 'minimum' THEN 'min' WHEN 'maximum' THEN 'max'
                        WHEN 'exclusiveMinimum' THEN 'exclusive_min' ELSE 'exclusive_max' END,
                    v_prop -> v_key);
            END LOOP;
        END IF;
        -- enum: JSON equality. Values of other types can never match a
        -- value of this type; a null outside the enum is invalid.
        IF v_prop ? 'enum' THEN
            v_field := v_field || jsonb_build_object('one_of', coalesce(
                (SELECT jsonb_agg(pgstaging.json_native_scalar(e.value, v_type) ORDER BY e.ord)
                 FROM jsonb_array_elements(v_prop -> 'enum') WITH ORDINALITY AS e (value, ord)
                 WHERE pgstaging.json_fits_type(e.value, v_type)), '[]'));
            v_nullable := v_nullable AND v_prop -> 'enum' @> '[null]';
        END IF;
        v_field := v_field || jsonb_build_object('nullable', v_nullable);
        -- default is an annotation: it fills an absent optional value when
        -- it fits the type, and never changes a verdict.
        IF v_prop ? 'default' AND NOT v_name = ANY (v_required) AND pgstaging.json_fits_type(v_prop -> 'default', v_type) THEN
            v_field := v_field || jsonb_build_object('default', pgstaging.json_native_scalar(v_prop -> 'default', v_type));
        END IF;
        v_fields := v_fields || jsonb_build_array(v_field);
    END LOOP;
    RETURN v_fields;
END
$function$;

-- Check a spec against the spec format and return it native: a spec that
-- gives "json_schema" gets the compiled "fields" beside it (kept, so the
-- registry holds what the user wrote and what it compiled to). Refuses an
-- unknown key, a wrong JSON type or a bad pattern with 22023 and its path.
CREATE OR REPLACE FUNCTION pgstaging.normalize_spec(p_spec jsonb)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_format jsonb := (SELECT f.document FROM pgstaging.spec_format AS f WHERE f.name = 'spec.schema.json');
    v_fields jsonb;
    v_field jsonb;
    v_ord integer;
BEGIN
    IF v_format IS NULL THEN
        RAISE EXCEPTION 'pgstaging: the spec format is not loaded' USING ERRCODE = '55000',
            HINT = 'Run pgstaging install: it loads sql/spec.schema.json.';
    END IF;
    PERFORM pgstaging.spec_check(v_format, p_spec, '', v_format);
    IF p_spec ? 'json_schema' THEN
        v_fields := pgstaging.json_schema_fields(p_spec -> 'json_schema');
        IF p_spec ? 'fields' AND p_spec -> 'fields' IS DISTINCT FROM v_fields THEN
            RAISE EXCEPTION 'pgstaging: a spec gives "fields" or "json_schema", not both' USING ERRCODE = '22023',
                DETAIL = 'A registered JSON Schema spec holds the fields it compiled to; those may stay, unchanged.';
        END IF;
    ELSIF NOT p_spec ? 'fields' THEN
        RAISE EXCEPTION 'pgstaging: a spec needs "fields" or "json_schema"' USING ERRCODE = '22023';
    ELSE
        v_fields := p_spec -> 'fields';
    END IF;
    -- A bad pattern is refused here, with its path, not at promotion.
    FOR v_field, v_ord IN SELECT f.value, f.ord - 1 FROM jsonb_array_elements(v_fields) WITH ORDINALITY AS f (value, ord) LOOP
        CONTINUE WHEN NOT v_field ? 'pattern';
        BEGIN
            PERFORM '' ~ (v_field ->> 'pattern');
        EXCEPTION WHEN invalid_regular_expression THEN
            RAISE EXCEPTION 'pgstaging: % is not a valid regular expression: %',
                CASE WHEN p_spec ? 'json_schema' THEN format('json_schema.properties.%s.pattern', coalesce(v_field ->> 'source', v_field ->> 'column'))
                     ELSE format('fields[%s].pattern', v_ord) END, SQLERRM
                USING ERRCODE = '22023', HINT = 'Patterns are PostgreSQL regular expressions (no \p{...} classes).';
        END;
    END LOOP;
    RETURN CASE WHEN p_spec ? 'json_schema' THEN p_spec || jsonb_build_object('fields', v_fields) ELSE p_spec END;
END
$function$;
