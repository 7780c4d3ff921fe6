-- Building blocks for set-based validation. All are IMMUTABLE one-expression
-- SQL functions, so the planner inlines them into the promotion query: no
-- per-row function call, no per-row EXCEPTION block.

-- Trim ASCII and Unicode whitespace (btrim alone only strips spaces).
CREATE OR REPLACE FUNCTION pgstaging.trim_ws(p_value text)
RETURNS text
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
RETURN pg_catalog.btrim(
    p_value,
    E' \t\n\r\f\v' || U&'\0085\00A0\1680\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\2028\2029\202F\205F\3000\FEFF'
);

-- One validation error in the design's form, as a one-element array, or an
-- empty array when there is no error; errors are concatenated with ||.
CREATE OR REPLACE FUNCTION pgstaging.field_error(p_field text, p_error text)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN p_error IS NULL THEN '[]'::jsonb
    ELSE pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('field', p_field, 'error', p_error))
END;

-- Error code for a text field: missing, wrong type, empty, too long; NULL if fine.
-- p_value is the field as jsonb (SQL NULL when absent or JSON null).
CREATE OR REPLACE FUNCTION pgstaging.text_error(p_value jsonb, p_required boolean, p_max_length integer)
RETURNS text
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN p_value IS NULL THEN CASE WHEN p_required THEN 'missing' END
    WHEN pg_catalog.jsonb_typeof(p_value) <> 'string' THEN 'wrong type'
    WHEN pgstaging.trim_ws(p_value #>> '{}') = '' THEN CASE WHEN p_required THEN 'empty' END
    WHEN pg_catalog.char_length(pgstaging.trim_ws(p_value #>> '{}')) > p_max_length THEN 'too long'
END;

-- The normalized value of a text field: trimmed, NULL when absent or blank.
CREATE OR REPLACE FUNCTION pgstaging.text_value(p_value jsonb)
RETURNS text
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN pg_catalog.jsonb_typeof(p_value) = 'string'
        THEN nullif(pgstaging.trim_ws(p_value #>> '{}'), '')
END;

-- Error code for an identifier that may be a string or an integer.
CREATE OR REPLACE FUNCTION pgstaging.key_error(p_value jsonb, p_max_length integer)
RETURNS text
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN p_value IS NULL THEN 'missing'
    WHEN pg_catalog.jsonb_typeof(p_value) = 'number'
        THEN CASE
            WHEN (p_value #>> '{}') !~ '^-?[0-9]+$' THEN 'not an integer'
            WHEN pg_catalog.char_length(p_value #>> '{}') > p_max_length THEN 'too long'
        END
    WHEN pg_catalog.jsonb_typeof(p_value) <> 'string' THEN 'wrong type'
    WHEN pgstaging.trim_ws(p_value #>> '{}') = '' THEN 'empty'
    WHEN pg_catalog.char_length(pgstaging.trim_ws(p_value #>> '{}')) > p_max_length THEN 'too long'
END;

-- The normalized identifier: a trimmed string, or an integer's digits.
CREATE OR REPLACE FUNCTION pgstaging.key_value(p_value jsonb)
RETURNS text
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
RETURN CASE pg_catalog.jsonb_typeof(p_value)
    WHEN 'string' THEN nullif(pgstaging.trim_ws(p_value #>> '{}'), '')
    WHEN 'number' THEN CASE WHEN (p_value #>> '{}') ~ '^-?[0-9]+$' THEN p_value #>> '{}' END
END;
