-- The demo's two logins: a script actor and a validator, with only what
-- pgstaging's roles and actor rights give them. Created where missing.
DO $logins$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'demo_fetcher') THEN
        CREATE ROLE demo_fetcher LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'demo_validator') THEN
        CREATE ROLE demo_validator LOGIN;
    END IF;
    PERFORM pgstaging.grant_membership(pgstaging.group_role('script'), 'demo_fetcher');
    PERFORM pgstaging.grant_membership(pgstaging.group_role('validator'), 'demo_validator');
    -- The SET ROLE fallback: the owner may act as the demo's logins. On 16+
    -- that is the SET option (not INHERIT); before 16, membership.
    PERFORM pgstaging.grant_membership('demo_fetcher', current_user, true);
    PERFORM pgstaging.grant_membership('demo_validator', current_user, true);
    -- The fetcher runs the design's actor, with stage on postings only.
    PERFORM pgstaging.add_actor('db_job_fetcher', 'demo_fetcher');
    PERFORM pgstaging.allow_actor('db_job_fetcher', 'postings', 'stage');
END
$logins$;
