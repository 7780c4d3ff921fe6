-- Unqualified objects go to the target schema; functions pin this path
-- (SET search_path FROM CURRENT), so pg_catalog comes first, pg_temp last.
SELECT
    pg_catalog.to_regnamespace(%(target_schema)s) IS NOT NULL AS target_exists,
    pg_catalog.set_config(
        'search_path', pg_catalog.format('%%I, pgstaging, pg_temp', %(target_schema)s), true
    ) AS search_path
