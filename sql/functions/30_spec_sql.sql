-- SQL builders: turn one field of a spec into SQL expressions. They run at
-- registration only; what they return is compiled into the judged view and
-- the promotion statements, so validation stays set-based.
--
-- Per field, the judged view has three levels:
--   raw      the field's raw jsonb value(s) and its candidate: the typed,
--            normalized value, or NULL when absent, blank or unusable;
--   checked  the final value (candidate, lookup, default) and an error code;
--   judged   all error codes folded into [{"field","error"}], plus row rules.

-- The SQL type of a spec field type.
CREATE OR REPLACE FUNCTION pgstaging.spec_sql_type(p_type text)
RETURNS text
LANGUAGE sql
IMMUTABLE
RETURN CASE p_type
    WHEN 'text' THEN 'text'
    WHEN 'integer' THEN 'integer'
    WHEN 'bigint' THEN 'bigint'
    WHEN 'numeric' THEN 'numeric'
    WHEN 'boolean' THEN 'boolean'
    WHEN 'date' THEN 'date'
    WHEN 'timestamptz' THEN 'timestamptz'
END;

-- The raw jsonb keys a field reads: "source" (default: the column name), or
-- for a reference, the keys of references.by in order (first present wins).
CREATE OR REPLACE FUNCTION pgstaging.spec_field_keys(p_field jsonb)
RETURNS text []
LANGUAGE sql
IMMUTABLE
RETURN CASE
    WHEN p_field ? 'references'
        THEN ARRAY(SELECT k.key FROM jsonb_each_text(p_field -> 'references' -> 'by') WITH ORDINALITY AS k (key, value, ord) ORDER BY k.ord)
    ELSE ARRAY[coalesce(p_field ->> 'source', p_field ->> 'column')]
END;

-- Normalizers applied to a text candidate, in the spec's order (default: trim).
CREATE OR REPLACE FUNCTION pgstaging.spec_normalize_sql(p_field jsonb, p_expr text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_expr text := p_expr;
    v_step text;
BEGIN
    FOR v_step IN SELECT jsonb_array_elements_text(coalesce(p_field -> 'normalize', '["trim"]')) LOOP
        v_expr := CASE v_step
            WHEN 'trim' THEN format('pgstaging.trim_ws(%s)', v_expr)
            WHEN 'lower' THEN format('lower(%s)', v_expr)
            WHEN 'upper' THEN format('upper(%s)', v_expr)
            WHEN 'collapse_whitespace' THEN format($$regexp_replace(%s, '[[:space:]]+', ' ', 'g')$$, v_expr)
        END;
        IF v_expr IS NULL THEN
            RAISE EXCEPTION 'pgstaging: unknown normalizer "%" for field "%"', v_step, p_field ->> 'column'
                USING ERRCODE = '22023', HINT = 'Normalizers: trim, lower, upper, collapse_whitespace.';
        END IF;
    END LOOP;
    RETURN v_expr;
END
$function$;

-- The candidate expression of one raw value (p_raw: SQL of a jsonb value):
-- typed and normalized, NULL when absent, blank or not convertible.
-- Options: "convert": false takes only the JSON type itself (no string
-- conversion, no trimming before parsing; 1.0 is an integer, "12" is not);
-- "allow_empty": true keeps a blank string as a value.
CREATE OR REPLACE FUNCTION pgstaging.spec_candidate_sql(p_field jsonb, p_raw text, p_type text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_str text := format('(%s #>> ''{}'')', p_raw);
    v_trim text := format('pgstaging.trim_ws(%s #>> ''{}'')', p_raw);
    v_convert boolean := coalesce((p_field ->> 'convert')::boolean, true);
    v_digits text;
BEGIN
    CASE p_type
    WHEN 'text' THEN
        RETURN format(
            'CASE jsonb_typeof(%s) WHEN ''string'' THEN %s %s END',
            p_raw,
            CASE WHEN (p_field ->> 'allow_empty')::boolean THEN pgstaging.spec_normalize_sql(p_field, v_str)
                 ELSE format('nullif(%s, '''')', pgstaging.spec_normalize_sql(p_field, v_str)) END,
            CASE WHEN (p_field ->> 'accept_integer')::boolean
                THEN format('WHEN ''number'' THEN CASE WHEN %1$s ~ ''^-?[0-9]+$'' THEN %1$s END', v_str)
                ELSE '' END);
    WHEN 'integer', 'bigint' THEN
        IF NOT v_convert THEN
            -- A JSON number with no fractional part (1.0 and 1e2 are integers).
            RETURN format(
                'CASE WHEN jsonb_typeof(%1$s) = ''number'' THEN CASE WHEN %1$s::numeric = trunc(%1$s::numeric) AND %1$s::numeric BETWEEN %2$s AND %3$s THEN %1$s::numeric::%4$s END END',
                p_raw,
                CASE p_type WHEN 'integer' THEN '-2147483648' ELSE '-9223372036854775808' END,
                CASE p_type WHEN 'integer' THEN '2147483647' ELSE '9223372036854775807' END,
                p_type);
        END IF;
        v_digits := format('(CASE jsonb_typeof(%s) WHEN ''number'' THEN %s WHEN ''string'' THEN %s END)', p_raw, v_str, v_trim);
        RETURN format(
            'CASE WHEN %1$s ~ ''^[+-]?[0-9]{1,30}$'' THEN CASE WHEN %1$s::numeric BETWEEN %2$s AND %3$s THEN %1$s::%4$s END END',
            v_digits,
            CASE p_type WHEN 'integer' THEN '-2147483648' ELSE '-9223372036854775808' END,
            CASE p_type WHEN 'integer' THEN '2147483647' ELSE '9223372036854775807' END,
            p_type);
    WHEN 'numeric' THEN
        RETURN format(
            'CASE jsonb_typeof(%1$s) WHEN ''number'' THEN %2$s::numeric%3$s END',
            p_raw, v_str,
            CASE WHEN v_convert THEN format(' WHEN ''string'' THEN CASE WHEN %1$s ~ ''^[+-]?([0-9]{1,255}[.]?[0-9]{0,255}|[.][0-9]{1,255})([eE][+-]?[0-9]{1,3})?$'' THEN %1$s::numeric END', v_trim) ELSE '' END);
    WHEN 'boolean' THEN
        RETURN format(
            'CASE jsonb_typeof(%1$s) WHEN ''boolean'' THEN %2$s::boolean%3$s END',
            p_raw, v_str,
            CASE WHEN v_convert THEN format(' WHEN ''string'' THEN CASE lower(%s) WHEN ''true'' THEN true WHEN ''yes'' THEN true WHEN ''1'' THEN true WHEN ''false'' THEN false WHEN ''no'' THEN false WHEN ''0'' THEN false END', v_trim) ELSE '' END);
    WHEN 'date' THEN
        RETURN format(
            'CASE WHEN jsonb_typeof(%1$s) = ''string'' AND pgstaging.is_iso_date(%2$s) THEN %2$s::date END',
            p_raw, CASE WHEN v_convert THEN v_trim ELSE v_str END);
    WHEN 'timestamptz' THEN
        -- Without conversion: RFC 3339, JSON Schema's date-time.
        RETURN format(
            'CASE WHEN jsonb_typeof(%1$s) = ''string'' AND %3$s(%2$s) THEN %2$s::timestamptz END',
            p_raw, CASE WHEN v_convert THEN v_trim ELSE v_str END,
            CASE WHEN v_convert THEN 'pgstaging.is_iso_timestamp' ELSE 'pgstaging.is_rfc3339_timestamp' END);
    ELSE
        RAISE EXCEPTION 'pgstaging: unknown type "%" for field "%"', p_type, p_field ->> 'column'
            USING ERRCODE = '22023', HINT = 'Types: text, integer, bigint, numeric, boolean, date, timestamptz.';
    END CASE;
END
$function$;

-- The error expression for one raw value and its candidate: NULL when fine.
-- Codes: missing, empty, wrong type, not an integer, out of range,
-- not a number, not a boolean, not a date, not a timestamp, too short,
-- too long, too small, too large, does not match pattern, not one of: ...
-- "nullable": false makes a present JSON null a wrong type (jsonb_to_record
-- reads it as SQL NULL, so it is told from an absent key by the raw
-- document, the column document__raw beside p_raw); "exclusive_min" and
-- "exclusive_max" are strict bounds.
CREATE OR REPLACE FUNCTION pgstaging.spec_error_sql(p_field jsonb, p_raw text, p_cand text, p_type text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_sql_type text := pgstaging.spec_sql_type(p_type);
    v_bound_type text := CASE WHEN p_type IN ('integer', 'bigint', 'numeric') THEN 'numeric' ELSE pgstaging.spec_sql_type(p_type) END;
    v_convert boolean := coalesce((p_field ->> 'convert')::boolean, true);
    v_needed boolean := coalesce((p_field ->> 'required')::boolean, false) AND NOT p_field ? 'default';
    v_absent text := CASE WHEN v_needed THEN '''missing''' ELSE 'NULL' END;
    v_checks text := '';
    v_unusable text;
    v_types text;
BEGIN
    -- Checks on a usable candidate, in order.
    IF p_field ? 'min_length' THEN
        v_checks := v_checks || format(' WHEN char_length(%s) < %s THEN ''too short''', p_cand, (p_field ->> 'min_length')::integer);
    END IF;
    IF p_field ? 'max_length' THEN
        v_checks := v_checks || format(' WHEN char_length(%s) > %s THEN ''too long''', p_cand, (p_field ->> 'max_length')::integer);
    END IF;
    IF p_field ? 'pattern' THEN
        v_checks := v_checks || format(' WHEN %s !~ %L THEN ''does not match pattern''', p_cand, p_field ->> 'pattern');
    END IF;
    IF p_field ? 'one_of' THEN
        v_checks := v_checks || format(' WHEN %s <> ALL (%L::%s[]) THEN %L', p_cand,
            ARRAY(SELECT jsonb_array_elements_text(p_field -> 'one_of')), v_sql_type,
            'not one of: ' || coalesce((SELECT string_agg(v, ', ') FROM jsonb_array_elements_text(p_field -> 'one_of') AS v), ''));
    END IF;
    -- Numeric bounds compare as numeric, so 1.5 can bound an integer field.
    IF p_field ? 'min' THEN
        v_checks := v_checks || format(' WHEN %s < %L::%s THEN ''too small''', p_cand, p_field ->> 'min', v_bound_type);
    END IF;
    IF p_field ? 'exclusive_min' THEN
        v_checks := v_checks || format(' WHEN %s <= %L::%s THEN ''too small''', p_cand, p_field ->> 'exclusive_min', v_bound_type);
    END IF;
    IF p_field ? 'max' THEN
        v_checks := v_checks || format(' WHEN %s > %L::%s THEN ''too large''', p_cand, p_field ->> 'max', v_bound_type);
    END IF;
    IF p_field ? 'exclusive_max' THEN
        v_checks := v_checks || format(' WHEN %s >= %L::%s THEN ''too large''', p_cand, p_field ->> 'exclusive_max', v_bound_type);
    END IF;

    -- Which JSON types are acceptable, and the error when one is unusable.
    v_types := CASE
        WHEN p_type = 'text' THEN CASE WHEN (p_field ->> 'accept_integer')::boolean THEN '''string'', ''number''' ELSE '''string''' END
        WHEN p_type IN ('integer', 'bigint', 'numeric') THEN CASE WHEN v_convert THEN '''string'', ''number''' ELSE '''number''' END
        WHEN p_type = 'boolean' THEN CASE WHEN v_convert THEN '''string'', ''boolean''' ELSE '''boolean''' END
        ELSE '''string'''
    END;
    v_unusable := CASE p_type
        WHEN 'text' THEN '''not an integer'''
        WHEN 'integer' THEN format('CASE WHEN (CASE jsonb_typeof(%1$s) WHEN ''number'' THEN %1$s #>> ''{}'' ELSE pgstaging.trim_ws(%1$s #>> ''{}'') END) ~ ''^[+-]?[0-9]+$'' THEN ''out of range'' ELSE ''not an integer'' END', p_raw)
        WHEN 'bigint' THEN format('CASE WHEN (CASE jsonb_typeof(%1$s) WHEN ''number'' THEN %1$s #>> ''{}'' ELSE pgstaging.trim_ws(%1$s #>> ''{}'') END) ~ ''^[+-]?[0-9]+$'' THEN ''out of range'' ELSE ''not an integer'' END', p_raw)
        WHEN 'numeric' THEN '''not a number'''
        WHEN 'boolean' THEN '''not a boolean'''
        WHEN 'date' THEN '''not a date'''
        WHEN 'timestamptz' THEN '''not a timestamp'''
    END;

    RETURN format(
        'CASE WHEN %1$s IS NULL THEN %2$s'
        ' WHEN jsonb_typeof(%1$s) NOT IN (%3$s) THEN ''wrong type'''
        ' WHEN %4$s IS NULL THEN %5$s'
        '%6$s END',
        p_raw,
        CASE WHEN coalesce((p_field ->> 'nullable')::boolean, true) THEN v_absent
             ELSE format('CASE WHEN %s ? %L THEN ''wrong type'' ELSE %s END',
                 regexp_replace(p_raw, '^([a-z_]+)[.].*$', '\1.document__raw'), (pgstaging.spec_field_keys(p_field))[1], v_absent) END,
        v_types,
        p_cand,
        CASE WHEN (p_field ->> 'allow_empty')::boolean THEN v_unusable
             ELSE format('CASE WHEN jsonb_typeof(%1$s) = ''string'' AND pgstaging.trim_ws(%1$s #>> ''{}'') = '''' THEN %2$s ELSE %3$s END',
                 p_raw, CASE WHEN v_needed THEN '''empty''' ELSE 'NULL' END, v_unusable) END,
        v_checks);
END
$function$;

-- The natural key as the unique index lists it: column, or lower(column)
-- for a case-insensitive field. Compared across re-registrations to tell
-- when the key itself changed.
CREATE OR REPLACE FUNCTION pgstaging.spec_key_sql(p_spec jsonb)
RETURNS text
LANGUAGE sql
IMMUTABLE
RETURN (
    SELECT string_agg(
        CASE WHEN EXISTS (SELECT 1 FROM jsonb_array_elements(p_spec -> 'fields') AS f
                          WHERE f.value ->> 'column' = k.name AND (f.value ->> 'case_insensitive')::boolean)
             THEN format('lower(%I)', k.name)
             ELSE format('%I', k.name)
        END, ', ' ORDER BY k.ord)
    FROM jsonb_array_elements_text(p_spec -> 'natural_key') WITH ORDINALITY AS k (name, ord)
);
