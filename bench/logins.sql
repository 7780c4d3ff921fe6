-- Login roles for the benchmark (superuser, throwaway cluster only): a
-- script actor for ingest, a validator for promotion, as in production.
DO $logins$
DECLARE
    v_login text;
    v_group text;
BEGIN
    FOR v_login, v_group IN
        VALUES ('bench_script', 'staging_script'), ('bench_validator', 'staging_validator')
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_login) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I LOGIN', v_login);
        END IF;
        EXECUTE pg_catalog.format('GRANT %I TO %I', v_group, v_login);
    END LOOP;
END
$logins$;
