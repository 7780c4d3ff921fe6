-- The demo's two logins: a script actor and a validator. Created where
-- missing; membership in the group roles is all they get.
DO $logins$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'demo_fetcher') THEN
        CREATE ROLE demo_fetcher LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'demo_validator') THEN
        CREATE ROLE demo_validator LOGIN;
    END IF;
END
$logins$;

GRANT staging_script TO demo_fetcher;
GRANT staging_validator TO demo_validator;
