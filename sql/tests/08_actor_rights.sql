-- Actors with their own rights: the matrix per actor and right, each
-- refusal acted out (42501, with the HINT naming the missing right),
-- patches without patch, reading production with and without read, the
-- owner-only functions' own checks (22023) and the start right. Logins are
-- NOLOGIN roles made here (rolled back), acted out with SET LOCAL ROLE:
-- rights are checked against current_user.
BEGIN;
SELECT plan(44);

SELECT pgstaging.group_role('script') AS script \gset
SELECT c.relowner::regrole AS owner FROM pg_catalog.pg_class AS c
WHERE c.oid = 'public.postings_staging'::regclass \gset

-- SQLSTATE and HINT of what a statement raises.
CREATE FUNCTION pg_temp.hint_of(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_hint text;
BEGIN
    EXECUTE p_sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_hint = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ': ' || v_hint;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.hint_of(text) TO PUBLIC;

-- tap_a: stage and patch (description) on postings. tap_b: nothing.
-- tap_c: two actors. tap_d: a script with no actor. tap_r: a reader actor
-- that is in no group role.
CREATE ROLE tap_a NOLOGIN;
CREATE ROLE tap_b NOLOGIN;
CREATE ROLE tap_c NOLOGIN;
CREATE ROLE tap_d NOLOGIN;
SELECT format('GRANT %I TO tap_a, tap_b, tap_c, tap_d', :'script') \gexec
CREATE ROLE tap_r NOLOGIN;
CREATE ROLE tap_r2 NOLOGIN;
INSERT INTO workflow_runs DEFAULT VALUES RETURNING workflow_run_id AS run \gset
SELECT pgstaging.add_actor('tap_actor_a', 'tap_a') AS actor_a \gset
SELECT pgstaging.add_actor('tap_actor_b', 'tap_b') AS actor_b \gset
SELECT pgstaging.add_actor('tap_actor_c1', 'tap_c') AS actor_c1 \gset
SELECT pgstaging.add_actor('tap_actor_c2', 'tap_c') AS actor_c2 \gset
SELECT pgstaging.add_actor('tap_actor_r', 'tap_r') AS actor_r \gset
SELECT pgstaging.allow_actor('tap_actor_a', 'postings', 'stage') AS _ignored \gset
SELECT pgstaging.allow_actor('tap_actor_a', 'postings', 'patch', ARRAY['description']) AS _ignored \gset
SELECT pgstaging.allow_actor('tap_actor_c1', 'postings', 'stage') AS _ignored \gset
SELECT pgstaging.allow_actor('tap_actor_c2', 'postings', 'stage') AS _ignored \gset

SELECT is(pgstaging.add_actor('tap_actor_a', 'tap_a'), :actor_a, 'add_actor is idempotent and returns the actor_id');
SELECT results_eq(
    format($$SELECT table_name::text COLLATE "default", right_name, fields FROM pgstaging.actor_rights WHERE actor_id = %s ORDER BY 2$$, :actor_a),
    $$VALUES ('postings', 'patch', ARRAY['description']), ('postings', 'stage', NULL::text[])$$,
    'tap_actor_a holds stage, and patch of description (stored by raw key)'
);

-- ---------------------------------------------------------------------------
-- stage and patch, acted out.
-- ---------------------------------------------------------------------------
SET LOCAL ROLE tap_a;
SELECT lives_ok(format($$INSERT INTO postings_staging (workflow_run_id, actor_id, raw_data)
                         VALUES (%s, %s, '{"job_id": "R-1", "title": "t"}')$$, :run, :actor_a),
                'stage: an actor with stage stages an insert');
SELECT lives_ok(format($$INSERT INTO postings_staging (workflow_run_id, raw_data)
                         VALUES (%s, '{"job_id": "R-2", "title": "t"}') RETURNING staging_id$$, :run),
                'stage: a login with one actor may leave actor_id NULL');
SELECT lives_ok(format($$INSERT INTO postings_staging (workflow_run_id, actor_id, operation, raw_data)
                         VALUES (%s, %s, 'patch', '{"job_id": "R-1", "description": "d"}')$$, :run, :actor_a),
                'patch: an actor with patch stages a patch');
SELECT is(pg_temp.hint_of(format($$INSERT INTO skill_aliases_staging (workflow_run_id, actor_id, raw_data)
                                   VALUES (%s, %s, '{"alias": "a", "canonical": "b"}')$$, :run, :actor_a)),
          '42501: Missing right: stage. The owner runs: SELECT pgstaging.allow_actor(<actor name>, ''skill_aliases'', ''stage'');',
          'stage: refused on a table the actor has no stage right on; the HINT names the right');
SELECT is(left(pg_temp.hint_of(format($$INSERT INTO postings_staging (workflow_run_id, actor_id, raw_data)
                                        VALUES (%s, %s, '{"job_id": "R-3", "title": "t"}')$$, :run, :actor_b)), 6),
          '42501:', 'stage: refused as an actor the login is not bound to');
SELECT throws_ok(format($$INSERT INTO postings_staging (workflow_run_id, actor_id, raw_data)
                          VALUES (%s, %s, '{"job_id": "R-3", "title": "t"}')$$, :run, :actor_b),
                 '42501', format('pgstaging: actor %s is not bound to login tap_a', :actor_b),
                 'stage: the message names the actor and the login');
SELECT throws_ok(format($$INSERT INTO postings_staging (workflow_run_id, actor_id, raw_data) VALUES
                          (%1$s, %2$s, '{"job_id": "R-4", "title": "t"}'), (%1$s, %3$s, '{"job_id": "R-5", "title": "t"}')$$,
                        :run, :actor_a, :actor_b),
                 '42501', NULL, 'stage: one foreign row refuses the whole statement');
RESET ROLE;
SELECT results_eq(
    format($$SELECT raw_data ->> 'job_id', actor_id, operation FROM postings_staging WHERE workflow_run_id = %s ORDER BY staging_id$$, :run),
    format($$VALUES ('R-1', %1$s, 'insert'), ('R-2', %1$s, 'insert'), ('R-1', %1$s, 'patch')$$, :actor_a),
    'only the allowed rows were staged; the NULL actor_id was filled in'
);

SET LOCAL ROLE tap_b;
SELECT is(pg_temp.hint_of(format($$INSERT INTO postings_staging (workflow_run_id, actor_id, raw_data)
                                   VALUES (%s, %s, '{"job_id": "R-6", "title": "t"}')$$, :run, :actor_b)),
          '42501: Missing right: stage. The owner runs: SELECT pgstaging.allow_actor(<actor name>, ''postings'', ''stage'');',
          'stage: refused to an actor without stage');
SELECT is(pg_temp.hint_of(format($$INSERT INTO postings_staging (workflow_run_id, actor_id, operation, raw_data)
                                   VALUES (%s, %s, 'patch', '{"job_id": "R-1", "description": "x"}')$$, :run, :actor_b)),
          '42501: Missing right: patch. The owner runs: SELECT pgstaging.allow_actor(<actor name>, ''postings'', ''patch'');',
          'patch: refused to an actor without patch');
RESET ROLE;

SET LOCAL ROLE tap_c;
SELECT throws_ok(format($$INSERT INTO postings_staging (workflow_run_id, raw_data)
                          VALUES (%s, '{"job_id": "R-7", "title": "t"}')$$, :run),
                 '42501', 'pgstaging: actor_id is NULL and login tap_c runs 2 actors',
                 'stage: a NULL actor_id is refused to a login with two actors');
SELECT lives_ok(format($$INSERT INTO postings_staging (workflow_run_id, actor_id, raw_data)
                         VALUES (%s, %s, '{"job_id": "R-7", "title": "t"}')$$, :run, :actor_c2),
                'stage: that login names one of its actors');
SELECT is(left(pg_temp.hint_of(format($$INSERT INTO postings_staging (workflow_run_id, actor_id, operation, raw_data)
                                        VALUES (%s, %s, 'patch', '{"job_id": "R-7", "title": "x"}')$$, :run, :actor_c1)), 30),
          '42501: Missing right: patch. T', 'patch: stage does not give patch');
RESET ROLE;

SET LOCAL ROLE tap_d;
SELECT throws_ok(format($$INSERT INTO postings_staging (workflow_run_id, raw_data)
                          VALUES (%s, '{"job_id": "R-8", "title": "t"}')$$, :run),
                 '42501', 'pgstaging: login tap_d runs no actor', 'stage: a script login with no actor is refused');
RESET ROLE;

SELECT set_config('role', :'owner', true) AS _role \gset
SELECT lives_ok(format($$INSERT INTO postings_staging (workflow_run_id, raw_data)
                         VALUES (%s, '{"job_id": "R-9", "title": "t"}')$$, :run),
                'the staging table''s owner bypasses actor rights');
SELECT throws_ok(format($$INSERT INTO postings_staging (workflow_run_id, operation, raw_data)
                          VALUES (%s, 'delete', '{}')$$, :run),
                 '23514', NULL, 'operation is insert or patch');
RESET ROLE;

-- Taken back: the guard follows at once.
SELECT pgstaging.disallow_actor('tap_actor_a', 'postings', 'stage') AS _ignored \gset
SET LOCAL ROLE tap_a;
SELECT is(left(pg_temp.hint_of(format($$INSERT INTO postings_staging (workflow_run_id, actor_id, raw_data)
                                        VALUES (%s, %s, '{"job_id": "R-10", "title": "t"}')$$, :run, :actor_a)), 30),
          '42501: Missing right: stage. T', 'stage: refused once disallowed');
SELECT lives_ok(format($$INSERT INTO postings_staging (workflow_run_id, actor_id, operation, raw_data)
                         VALUES (%s, %s, 'patch', '{"job_id": "R-1", "description": "d2"}')$$, :run, :actor_a),
                'patch: still allowed (a right of its own)');
RESET ROLE;

-- ---------------------------------------------------------------------------
-- read: column-level SELECT on production, never staging.
-- ---------------------------------------------------------------------------
SET LOCAL ROLE tap_r;
SELECT throws_ok('SELECT job_title FROM postings', '42501', NULL, 'read: production is refused without read');
RESET ROLE;
SELECT pgstaging.allow_actor('tap_actor_r', 'postings', 'read', ARRAY['title', 'external_job_id']) AS _ignored \gset
SET LOCAL ROLE tap_r;
SELECT lives_ok('SELECT external_job_id, job_title FROM postings', 'read: the allowed columns, by raw key or column');
SELECT throws_ok('SELECT job_description FROM postings', '42501', NULL, 'read: another column is refused');
SELECT throws_ok('SELECT raw_data FROM postings_staging', '42501', NULL, 'read: staged raw data is refused');
SELECT throws_ok('SELECT staging_id FROM postings_staging', '42501', NULL, 'read: staging is refused altogether');
SELECT throws_ok('SELECT alias FROM skill_aliases', '42501', NULL, 'read: another table is refused');
RESET ROLE;
SELECT pgstaging.grant_staged_table('postings') AS _ignored \gset
SELECT is(has_column_privilege('tap_r', 'postings', 'job_title', 'SELECT'), true,
          'read: re-applied when the table''s grants are (re-registration)');
SELECT is(has_column_privilege('tap_r2', 'postings', 'job_title', 'SELECT'), false, 'read: not for an unbound login');
SELECT pgstaging.add_actor('tap_actor_r', 'tap_r2') AS _ignored \gset
SELECT is(has_column_privilege('tap_r2', 'postings', 'job_title', 'SELECT'), true, 'read: given to a login bound later');
SELECT pgstaging.allow_actor('tap_actor_r', 'postings', 'read') AS _ignored \gset
SELECT is(has_column_privilege('tap_r', 'postings', 'job_description', 'SELECT'), true, 'read: NULL fields is every column');
SELECT pgstaging.disallow_actor('tap_actor_r', 'postings', 'read', ARRAY['description']) AS _ignored \gset
SELECT is(has_column_privilege('tap_r', 'postings', 'job_description', 'SELECT'), false, 'read: one field taken back');
SELECT is(has_column_privilege('tap_r', 'postings', 'job_title', 'SELECT'), true, 'read: the others stay');
SELECT pgstaging.disallow_actor('tap_actor_r', 'postings', 'read') AS _ignored \gset
SELECT is(has_table_privilege('tap_r', 'postings', 'SELECT') OR has_column_privilege('tap_r', 'postings', 'job_title', 'SELECT'),
          false, 'read: all taken back');

-- ---------------------------------------------------------------------------
-- start, and the owner-only functions' checks.
-- ---------------------------------------------------------------------------
SELECT is(pgstaging.login_may_start_runs('tap_a'), false, 'start: not without the right');
SELECT pgstaging.allow_actor('tap_actor_a', NULL, 'start') AS _ignored \gset
SELECT pgstaging.allow_actor('tap_actor_r', NULL, 'start') AS _ignored \gset
SELECT is(pgstaging.login_may_start_runs('tap_a'), true, 'start: a script login whose actor has start');
SELECT is(pgstaging.login_may_start_runs('tap_r'), false, 'start: not for a login outside the script role');

SELECT throws_ok($$SELECT pgstaging.allow_actor('tap_actor_a', 'nope', 'stage')$$, '22023', NULL, 'an unknown table is refused');
SELECT throws_ok($$SELECT pgstaging.allow_actor('tap_actor_a', 'postings', 'write')$$, '22023', NULL, 'an unknown right is refused');
SELECT throws_ok($$SELECT pgstaging.allow_actor('tap_actor_a', 'postings', 'patch', ARRAY['salary'])$$, '22023',
                 'pgstaging: postings has no field salary', 'a field the spec does not have is refused');
SELECT throws_ok($$SELECT pgstaging.allow_actor('tap_actor_a', 'postings', 'patch', ARRAY['job_id'])$$, '22023',
                 'pgstaging: key fields are not patchable: job_id', 'a key field is not patchable');
SELECT throws_ok($$SELECT pgstaging.allow_actor('tap_actor_a', 'postings', 'start')$$, '22023', NULL, 'start takes no table');
SELECT throws_ok($$SELECT pgstaging.allow_actor('nobody', 'postings', 'stage')$$, '22023', NULL, 'an unknown actor is refused');
SELECT throws_ok($$SELECT pgstaging.add_actor('x', 'no_such_login')$$, '22023', NULL, 'an unknown login is refused');
SELECT set_config('role', :'script', true) AS _role \gset
SELECT throws_ok($$SELECT pgstaging.add_actor('mine', current_user)$$, '42501', NULL, 'a script may not bind actors');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
