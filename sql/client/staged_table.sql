-- Schema and name of a staged table's staging table (42P01 with a hint if unknown).
SELECT n.nspname AS schema_name, c.relname AS table_name
FROM pg_catalog.pg_class AS c
INNER JOIN pg_catalog.pg_namespace AS n ON c.relnamespace = n.oid
WHERE c.oid = (pgstaging.staged_table(%(table)s)).staging_table
