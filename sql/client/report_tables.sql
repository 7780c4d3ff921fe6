-- Staged tables of a run report (all, or %(table)s): where their staging and
-- production rows live, and the production id column.
SELECT
    t.table_name,
    sn.nspname AS staging_schema,
    sc.relname AS staging_name,
    pn.nspname AS production_schema,
    pc.relname AS production_name,
    t.spec ->> 'id_column' AS id_column
FROM pgstaging.staged_tables AS t
INNER JOIN pg_catalog.pg_class AS sc ON t.staging_table = sc.oid
INNER JOIN pg_catalog.pg_namespace AS sn ON sc.relnamespace = sn.oid
INNER JOIN pg_catalog.pg_class AS pc ON t.production_table = pc.oid
INNER JOIN pg_catalog.pg_namespace AS pn ON pc.relnamespace = pn.oid
WHERE %(table)s::text IS NULL OR t.table_name = %(table)s::text
ORDER BY t.table_name
