-- The tests' actors get stage and patch on every staged table, including
-- ones a test registered after the template (run as the owner or superuser).
SELECT pgstaging.allow_actor(a.actor_name, t.table_name, r.right_name)
FROM actors AS a
CROSS JOIN pgstaging.staged_tables AS t
CROSS JOIN (VALUES ('stage'), ('patch')) AS r (right_name)
WHERE a.actor_name IN ('test_fetcher', 'fault_fetcher', 'installer_test', 'load_fetcher', 'upgrade_fetcher',
                       'bench_fetcher', 'bench_profile', 'db_job_fetcher')
  AND NOT EXISTS (SELECT 1 FROM pgstaging.actor_rights AS x
                  WHERE x.actor_id = a.actor_id AND x.table_name = t.table_name AND x.right_name = r.right_name)
