-- Login roles for the tests, one per group role plus one with none, and
-- the actors the script logins run, with stage on every staged table (a
-- fresh install enforces rights). Cluster-wide logins: only ever run on a
-- throwaway cluster. Group role names are this install's.
DO $logins$
DECLARE
    v_login text;
    v_group text;
BEGIN
    FOR v_login, v_group IN
        VALUES ('script_login', 'script'),
               ('script_login2', 'script'),
               ('validator_login', 'validator'),
               ('reader_login', 'reader'),
               ('steward_login', 'steward'),
               ('nobody_login', NULL)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_login) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I LOGIN', v_login);
        END IF;
        IF v_group IS NOT NULL THEN
            PERFORM pgstaging.grant_membership(pgstaging.group_role(v_group), v_login);
        END IF;
    END LOOP;
END
$logins$;

-- Both script logins run the tests' actors.
SELECT pgstaging.add_actor(a.actor, l.login)
FROM unnest(ARRAY['test_fetcher', 'fault_fetcher', 'installer_test', 'load_fetcher', 'upgrade_fetcher',
                  'bench_fetcher', 'bench_profile', 'db_job_fetcher']) AS a (actor)
CROSS JOIN (VALUES ('script_login'::name), ('script_login2')) AS l (login);
-- Stage only: a patch right would make every table report updated_count
-- (tests that patch give the right themselves).
SELECT pgstaging.allow_actor(a.actor_name, t.table_name, 'stage')
FROM actors AS a
CROSS JOIN pgstaging.staged_tables AS t
WHERE a.actor_name IN ('test_fetcher', 'fault_fetcher', 'installer_test', 'load_fetcher', 'upgrade_fetcher',
                       'bench_fetcher', 'bench_profile', 'db_job_fetcher');
