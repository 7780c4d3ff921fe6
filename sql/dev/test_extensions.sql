-- Test-only extensions, created by the throwaway cluster's superuser.
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS plpgsql_check;
