-- Test-only extensions, created by the throwaway cluster's superuser.
-- plpgsql_check is built for Debian's 15 only: elsewhere it is absent, and
-- 05_plpgsql_check.sql says which checks it skipped.
CREATE EXTENSION IF NOT EXISTS pgtap;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'plpgsql_check') THEN
        CREATE EXTENSION IF NOT EXISTS plpgsql_check;
    END IF;
END
$$;
