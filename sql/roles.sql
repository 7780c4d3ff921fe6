-- Group roles (NOLOGIN). A login becomes a script actor by
-- GRANT staging_script TO some_login. Roles are cluster-wide, so they are
-- created only where missing; CREATEROLE is enough, superuser is not needed.
DO $roles$
DECLARE
    v_role text;
BEGIN
    FOREACH v_role IN ARRAY ARRAY['staging_script', 'staging_validator', 'staging_reader'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_role) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', v_role);
        END IF;
    END LOOP;
END
$roles$;

COMMENT ON ROLE staging_script IS 'pgstaging: may only INSERT raw rows into *_staging tables';
COMMENT ON ROLE staging_validator IS 'pgstaging: may run promote_* functions; reads staging and production';
COMMENT ON ROLE staging_reader IS 'pgstaging: reads staging and production tables';
