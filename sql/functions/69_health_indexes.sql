-- Indexes that keep the health views' cost to the last day's rows, however
-- long the history: judged rows by validated_at (partial: pending rows,
-- whose validated_at is NULL, cost COPY nothing), staged rows by created_at.
-- Called by register_staged_table; checks the catalog, so a re-run prints
-- no NOTICE and changes nothing.
CREATE OR REPLACE FUNCTION pgstaging.ensure_health_indexes(p_staging regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_schema name;
    v_name name;
    v_index record;
BEGIN
    SELECT n.nspname, c.relname INTO STRICT v_schema, v_name
    FROM pg_catalog.pg_class AS c
    INNER JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.oid = p_staging;
    FOR v_index IN
        SELECT x.suffix, x.definition
        FROM (VALUES
            ('_validated_at_idx', '(validated_at) WHERE validated_at IS NOT NULL'),
            ('_created_at_idx', '(created_at)')
        ) AS x (suffix, definition)
    LOOP
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM pg_catalog.pg_class AS c
            WHERE c.relnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace AS n WHERE n.nspname = v_schema)
              AND c.relname = left(v_name || v_index.suffix, 63)
        );
        EXECUTE format('CREATE INDEX %I ON %s %s', left(v_name || v_index.suffix, 63), p_staging, v_index.definition);
    END LOOP;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.ensure_health_indexes(regclass) FROM PUBLIC;
