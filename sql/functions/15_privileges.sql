-- Schema-qualified name of a relation, whatever the current search_path:
-- generated statements run under a search_path of pg_catalog, pg_temp.
CREATE OR REPLACE FUNCTION pgstaging.qualified_name(p_relation regclass)
RETURNS text
LANGUAGE sql
STABLE
RETURN (SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
        FROM pg_catalog.pg_class AS c
        INNER JOIN pg_catalog.pg_namespace AS n ON c.relnamespace = n.oid
        WHERE c.oid = p_relation);

-- GRANT SELECT on every current column of a table, as a column-level grant:
-- a column added later is not readable until an install grants it.
CREATE OR REPLACE FUNCTION pgstaging.grant_select_all_columns(p_table regclass, p_role name)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    EXECUTE (
        SELECT format('GRANT SELECT (%s) ON TABLE %s TO %I',
                      string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum), p_table, p_role)
        FROM pg_catalog.pg_attribute AS a
        WHERE a.attrelid = p_table AND a.attnum > 0 AND NOT a.attisdropped
    );
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.grant_select_all_columns(regclass, name) FROM PUBLIC;


REVOKE ALL ON FUNCTION pgstaging.qualified_name(regclass) FROM PUBLIC;
