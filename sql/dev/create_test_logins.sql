-- Login roles for the tests, one per group role plus one with none.
-- Cluster-wide: only ever run on a throwaway cluster.
DO $logins$
DECLARE
    v_login text;
    v_group text;
BEGIN
    FOR v_login, v_group IN
        VALUES ('script_login', 'staging_script'),
               ('script_login2', 'staging_script'),
               ('validator_login', 'staging_validator'),
               ('reader_login', 'staging_reader'),
               ('nobody_login', NULL)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_login) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I LOGIN', v_login);
        END IF;
        IF v_group IS NOT NULL THEN
            EXECUTE pg_catalog.format('GRANT %I TO %I', v_group, v_login);
        END IF;
    END LOOP;
END
$logins$;
