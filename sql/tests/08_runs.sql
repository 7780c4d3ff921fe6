-- Runs: who may start and end them (acted out with real session users:
-- the functions judge session_user), and what ending twice does.
BEGIN;
SELECT plan(22);

SELECT format('CREATE ROLE %I LOGIN IN ROLE %I', 'pgstaging_tap_' || k, pgstaging.group_role(k))
FROM unnest(ARRAY['script', 'validator', 'reader']) AS k \gexec
INSERT INTO workflow_runs DEFAULT VALUES RETURNING workflow_run_id AS engine_run \gset
INSERT INTO workflow_runs DEFAULT VALUES RETURNING workflow_run_id AS gated_run \gset

SELECT is((SELECT created_by_pgstaging FROM pgstaging.engine_tables WHERE table_name = 'workflow_runs'), true,
          'a fresh install records that pgstaging created workflow_runs');

-- A script login with no `start` right.
SET LOCAL SESSION AUTHORIZATION pgstaging_tap_script;
SELECT throws_ok('SELECT pgstaging.start_run()', '42501', NULL, 'script without start: start_run() is refused');
SELECT throws_ok(format('SELECT pgstaging.start_run(%s, NULL)', :engine_run), '42501', NULL,
                 'script without start: registering a run is refused');
SELECT throws_ok(format($$SELECT pgstaging.end_run(%s, 'failed')$$, :engine_run), '42501', NULL,
                 'script without start: end_run is refused');
SELECT throws_ok(format($$SELECT pgstaging.mark_run_failed(%s, '{}')$$, :engine_run), '42501', NULL,
                 'script: mark_run_failed is refused');
RESET SESSION AUTHORIZATION;

-- Given the right, through an actor bound to the login.
INSERT INTO actors (actor_name) VALUES ('tap_starter') RETURNING actor_id AS starter \gset
INSERT INTO pgstaging.actor_logins (actor_id, login) VALUES (:starter, 'pgstaging_tap_script');
INSERT INTO pgstaging.actor_rights (actor_id, table_name, right_name) VALUES (:starter, NULL, 'start');
SET LOCAL SESSION AUTHORIZATION pgstaging_tap_script;
SELECT pgstaging.start_run(42) AS script_run \gset
SELECT lives_ok(format($$SELECT pgstaging.end_run(%s, 'succeeded')$$, :script_run), 'script with start: may end its run');
RESET SESSION AUTHORIZATION;
SELECT results_eq(
    format('SELECT workflow_id, status, started_by, ended_by FROM pgstaging.runs WHERE workflow_run_id = %s', :script_run),
    $$VALUES (42, 'succeeded', 'pgstaging_tap_script'::name, 'pgstaging_tap_script'::name)$$,
    'script with start: start_run(42) made a run of workflow 42, ended succeeded, by the real login'
);
SELECT is((SELECT count(*) FROM workflow_runs WHERE workflow_run_id = :script_run), 1::bigint,
          'start_run added the workflow_runs row (pgstaging created that table)');

-- A validator: registers an engine's run, ends it; ending again.
SET LOCAL SESSION AUTHORIZATION pgstaging_tap_validator;
SELECT is(pgstaging.start_run(:engine_run, 7), :engine_run, 'validator: may register a run the engine made');
SELECT is(pgstaging.start_run(:engine_run, 7), :engine_run, 'registering it again with the same workflow changes nothing');
SELECT throws_ok(format('SELECT pgstaging.start_run(%s, 8)', :engine_run), '55000', NULL,
                 'registering it for another workflow is refused');
SELECT throws_ok('SELECT pgstaging.start_run(-1, NULL)', '23503', NULL, 'registering an unknown run is refused');
SELECT is(pgstaging.end_run(:engine_run, 'failed') ->> 'status', 'failed', 'validator: may end a run as failed');
SELECT is(pgstaging.end_run(:engine_run, 'failed') ->> 'status', 'failed', 'ending it again as failed changes nothing');
SELECT throws_ok(format($$SELECT pgstaging.end_run(%s, 'succeeded')$$, :engine_run), '55000', NULL,
                 'an ended run never changes status');
SELECT throws_ok(format($$SELECT pgstaging.end_run(%s, 'done')$$, :engine_run), '22023', NULL,
                 'a run ends as succeeded or failed only');
SELECT throws_ok(format($$SELECT pgstaging.mark_run_failed(%s, '{}')$$, :engine_run), '42501', NULL,
                 'validator: mark_run_failed is refused (owner only)');
RESET SESSION AUTHORIZATION;

-- A reader may read runs, not start them.
SET LOCAL SESSION AUTHORIZATION pgstaging_tap_reader;
SELECT throws_ok('SELECT pgstaging.start_run()', '42501', NULL, 'reader: start_run is refused');
SELECT throws_ok(format($$SELECT pgstaging.end_run(%s, 'failed')$$, :engine_run), '42501', NULL, 'reader: end_run is refused');
SELECT is((SELECT status FROM pgstaging.runs WHERE workflow_run_id = :engine_run), 'failed', 'reader: may read pgstaging.runs');
RESET SESSION AUTHORIZATION;

-- The owner's mark_run_failed (gates): upserts, keeps the first reason.
SELECT pgstaging.mark_run_failed(:gated_run, '{"rule": "max_failure_rate"}');
SELECT pgstaging.mark_run_failed(:gated_run, '{"rule": "min_rows"}');
SELECT results_eq(
    format('SELECT status, failure_reason, started_by IS NULL, ended_at IS NOT NULL FROM pgstaging.runs WHERE workflow_run_id = %s', :gated_run),
    $$VALUES ('failed', '{"rule": "max_failure_rate"}'::jsonb, true, true)$$,
    'mark_run_failed: an unregistered run becomes failed, with the first reason'
);
SELECT throws_ok(format($$SELECT pgstaging.end_run(%s, 'succeeded')$$, :gated_run), '55000', NULL,
                 'a run a gate failed cannot end succeeded');

SELECT * FROM finish();
ROLLBACK;
