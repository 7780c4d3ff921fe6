-- Guard modes (issue 14): who may switch them, what each refuses, and that
-- observe mode records direct writes but never pgstaging's own.
BEGIN;
SELECT plan(29);
SET LOCAL client_min_messages = warning;

CREATE ROLE tap_v1_writer NOLOGIN;
GRANT INSERT, UPDATE, DELETE, TRUNCATE, SELECT ON postings TO tap_v1_writer;
GRANT ALL ON postings_staging TO tap_v1_writer;
GRANT USAGE ON SCHEMA pgstaging TO tap_v1_writer;
GRANT EXECUTE ON FUNCTION pgstaging.set_guard(text, text, boolean) TO tap_v1_writer;
INSERT INTO workflow_runs DEFAULT VALUES RETURNING workflow_run_id AS run \gset

-- Privileges and refusals of set_guard.
SELECT function_privs_are('pgstaging', 'set_guard', ARRAY['text', 'text', 'boolean'], r, '{}'::name[],
                          r || ': no EXECUTE on set_guard')
FROM unnest(ARRAY[pgstaging.group_role('script'), pgstaging.group_role('validator'), pgstaging.group_role('reader'),
                  'public']) AS r ORDER BY r;
SELECT set_config('role', pgstaging.group_role('validator'), true) AS _role \gset
SELECT throws_ok($$SELECT pgstaging.set_guard('postings', 'observe')$$, '42501', NULL,
                 'validator: set_guard is refused');
RESET ROLE;
SET LOCAL ROLE tap_v1_writer;
SELECT throws_ok($$SELECT pgstaging.set_guard('postings', 'observe')$$, '42501', NULL,
                 'a role given EXECUTE but not owning the table is still refused');
RESET ROLE;
SELECT throws_ok($$SELECT pgstaging.set_guard('postings', 'loose')$$, '22023', NULL, 'an unknown mode is refused (22023)');
SELECT throws_ok($$SELECT pgstaging.set_guard('postings', NULL)$$, '22023', NULL, 'a NULL mode is refused (22023)');
SELECT throws_ok($$SELECT pgstaging.set_guard('nosuch', 'observe')$$, '42P01', NULL, 'an unknown table is refused (42P01)');

-- Enforce (the default for tables pgstaging creates): no observing trigger.
SELECT is((SELECT count(*)::integer FROM pg_trigger WHERE tgrelid = 'postings'::regclass AND tgname LIKE 'postings_observe_%'),
          0, 'enforce: postings has no observing trigger');
SET LOCAL ROLE tap_v1_writer;
SELECT throws_ok($$INSERT INTO postings (external_job_id, source_website, company_name, job_title) VALUES ('TAP-D0', 'tap', 'tap', 'direct')$$, '42501', NULL,
                 'enforce: a direct INSERT is refused');
RESET ROLE;

-- Observe.
SELECT is(pgstaging.set_guard('postings', 'observe') ->> 'mode', 'observe', 'the owner switches postings to observe');
SELECT is(pgstaging.set_guard('postings', 'observe') ->> 'previous_mode', 'observe', 'switching again changes nothing');
SELECT is((SELECT count(*)::integer FROM pg_trigger WHERE tgrelid = 'postings'::regclass AND tgname LIKE 'postings_observe_%'),
          3, 'observe: one observing trigger per event');
SET LOCAL ROLE tap_v1_writer;
SELECT lives_ok($$INSERT INTO postings (external_job_id, source_website, company_name, job_title) VALUES ('TAP-D1', 'tap', 'tap', 'direct'), ('TAP-D2', 'tap', 'tap', 'direct')$$,
                'observe: a direct INSERT succeeds');
SELECT lives_ok($$UPDATE postings SET location = 'Berlin' WHERE external_job_id = 'TAP-D1'$$,
                'observe: a direct UPDATE succeeds');
SELECT throws_ok($$INSERT INTO postings (external_job_id, source_website, company_name, job_title, created_by_interaction_id) VALUES ('TAP-D3', 'tap', 'tap', 'x', 7)$$,
                 '42501', NULL, 'observe: a direct INSERT setting an audit column is refused');
SELECT throws_ok($$UPDATE postings SET updated_by_interaction_id = 7 WHERE external_job_id = 'TAP-D2'$$,
                 '42501', NULL, 'observe: a direct UPDATE setting an audit column is refused');
SELECT throws_ok('TRUNCATE postings CASCADE', '42501', NULL, 'observe: TRUNCATE is still refused');
SELECT throws_ok('UPDATE postings_staging SET validated = true', '42501', NULL, 'observe: staging stays guarded');
SELECT throws_ok(format($$INSERT INTO postings_staging (workflow_run_id, raw_data, promoted) VALUES (%s, '{}', true)$$, :run),
                 '42501', NULL, 'observe: a staged row still cannot carry its own verdict');
RESET ROLE;
SELECT results_eq(
    $$SELECT operation, row_count, session_user_name = session_user FROM pgstaging.direct_writes
      WHERE table_name = 'postings' ORDER BY write_id$$,
    $$VALUES ('INSERT', 2::bigint, true), ('UPDATE', 1::bigint, true)$$,
    'observe: each direct statement is recorded with its row count and session_user');
SELECT is((SELECT count(*)::integer FROM pgstaging.alerts WHERE payload ->> 'action' = 'direct_write'), 2,
          'observe: each direct statement raises an alert');
SELECT is((SELECT count(*)::integer FROM pgstaging.direct_write_rows AS r
           INNER JOIN postings AS p ON r.production_id = p.posting_id WHERE p.external_job_id = 'TAP-D1'), 1,
          'observe: the row a direct UPDATE changed is recorded');

-- pgstaging's own writes are not direct writes.
INSERT INTO postings_staging (workflow_run_id, raw_data) VALUES (:run, '{"job_id": "TAP-S1", "title": "staged"}');
SELECT is((SELECT (promote_postings_staging(:run) ->> 'promoted_count')::integer), 1, 'observe: promotion works');
SELECT is((SELECT count(*)::integer FROM pgstaging.direct_writes), 2, 'observe: promotion is not a direct write');

-- Back to enforce: refused while direct writes are recent, unless forced.
SELECT throws_ok($$SELECT pgstaging.set_guard('postings', 'enforce')$$, '55000', NULL,
                 'enforce after direct writes in the last day needs p_force');
SELECT is(pgstaging.set_guard('postings', 'enforce', p_force => true) ->> 'mode', 'enforce', 'p_force switches to enforce');
SET LOCAL ROLE tap_v1_writer;
SELECT throws_ok($$INSERT INTO postings (external_job_id, source_website, company_name, job_title) VALUES ('TAP-D4', 'tap', 'tap', 'direct')$$, '42501', NULL,
                 'enforce again: a direct INSERT is refused');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
