-- Building blocks for set-based validation. All are IMMUTABLE one-expression
-- SQL functions, so the planner inlines them into the promotion query: no
-- per-row function call, no per-row EXCEPTION block.

-- Trim ASCII and Unicode whitespace (btrim alone only strips spaces).
-- Vertical tab is U&'\000B': E'\v' is not an escape in PostgreSQL, it is "v".
CREATE OR REPLACE FUNCTION pgstaging.trim_ws(p_value text)
RETURNS text
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
RETURN pg_catalog.btrim(
    p_value,
    E' \t\n\r\f' || U&'\000B\0085\00A0\1680\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\2028\2029\202F\205F\3000\FEFF'
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

-- Per-field helpers of the first, hand-written postings rules; the spec
-- generator (30_spec_sql.sql) replaced them and nothing calls them.
-- Dropped here so that upgraded installs match fresh ones.
DROP FUNCTION IF EXISTS pgstaging.text_error(jsonb, boolean, integer);
DROP FUNCTION IF EXISTS pgstaging.text_value(jsonb);
DROP FUNCTION IF EXISTS pgstaging.key_error(jsonb, integer);
DROP FUNCTION IF EXISTS pgstaging.key_value(jsonb);

-- True for an ISO calendar date YYYY-MM-DD that exists (no 2023-02-30).
-- Regex and arithmetic only, so it can never raise on hostile input.
CREATE OR REPLACE FUNCTION pgstaging.is_iso_date(p_value text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN p_value !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN false
    WHEN substr(p_value, 6, 2)::integer NOT BETWEEN 1 AND 12 THEN false
    WHEN substr(p_value, 1, 4)::integer = 0 THEN false
    ELSE substr(p_value, 9, 2)::integer BETWEEN 1 AND CASE
        WHEN substr(p_value, 6, 2)::integer IN (4, 6, 9, 11) THEN 30
        WHEN substr(p_value, 6, 2)::integer <> 2 THEN 31
        WHEN substr(p_value, 1, 4)::integer % 400 = 0 THEN 29
        WHEN substr(p_value, 1, 4)::integer % 100 = 0 THEN 28
        WHEN substr(p_value, 1, 4)::integer % 4 = 0 THEN 29
        ELSE 28
    END
END;

-- True for an ISO 8601 timestamp: date, T or space, hh:mm[:ss[.ffffff]],
-- optional Z or +hh[:mm]. Never raises: CASE, not AND, orders the casts.
CREATE OR REPLACE FUNCTION pgstaging.is_iso_timestamp(p_value text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN p_value !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$'
        THEN false
    WHEN NOT pgstaging.is_iso_date(substr(p_value, 1, 10)) THEN false
    WHEN substr(p_value, 12, 2)::integer > 23 THEN false
    WHEN substr(p_value, 15, 2)::integer > 59 THEN false
    WHEN substr(p_value, 17, 1) = ':' AND substr(p_value, 18, 2) > '59' THEN false
    WHEN coalesce(substring(p_value FROM '[+-]([0-9]{2}):?[0-9]{0,2}$')::integer, 0) > 15 THEN false
    ELSE coalesce(substring(p_value FROM '[+-][0-9]{2}:?([0-9]{2})$')::integer, 0) <= 59
END;
