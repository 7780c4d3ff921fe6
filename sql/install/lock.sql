-- Serialize concurrent installers (a statement of its own: never inside a CTE).
SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgstaging.install'))
