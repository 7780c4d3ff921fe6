-- Guards: the triggers refuse what grants would allow, so a too-broad
-- GRANT (made here, rolled back at the end) still cannot corrupt anything.
-- Errors are matched by SQLSTATE and message, to tell a guard's refusal
-- from a plain privilege error. Every staged table is checked; postings in
-- depth.
BEGIN;
SELECT plan(47 + 9 * (SELECT count(*)::integer FROM pgstaging.staged_tables));
SET LOCAL client_min_messages = warning;  -- TRUNCATE ... CASCADE notices

SELECT pgstaging.group_role('script') AS script, pgstaging.group_role('validator') AS validator,
       pgstaging.group_role('reader') AS reader \gset
-- The script group role stages as one actor with stage on every table (a
-- fresh install enforces actor rights; 08_actor_rights tests them).
SELECT pgstaging.add_actor('pgtap_guards', :'script') AS tap_actor \gset
SELECT count(*) AS _allowed
FROM pgstaging.staged_tables AS t, LATERAL (SELECT pgstaging.allow_actor('pgtap_guards', t.table_name, 'stage')) AS a \gset

CREATE TEMP TABLE staged (name text PRIMARY KEY);
INSERT INTO staged SELECT table_name FROM pgstaging.staged_tables;
GRANT SELECT ON staged TO PUBLIC;

-- SQLSTATE and message of what a statement raises, for refusals whose
-- message names whichever guard fired first (TRUNCATE ... CASCADE).
CREATE FUNCTION pg_temp.raised(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE p_sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

SELECT c.relowner::regrole AS owner FROM pg_catalog.pg_class AS c
WHERE c.oid = 'public.postings_staging'::regclass \gset

-- Every staged table carries its guards.
SELECT results_eq(
    format($$SELECT tgname::text COLLATE "default", tgfoid::regproc::text FROM pg_catalog.pg_trigger
             WHERE tgrelid IN (%L::regclass, %L::regclass) AND NOT tgisinternal ORDER BY tgname$$,
           name, name || '_staging'),
    format($$VALUES ('%1$s_capture_preimage', 'pgstaging.capture_preimage'),
                    ('%1$s_guard_writes', 'pgstaging.guard_pgstaging_writes'),
                    ('%1$s_staging_guard_removal', 'pgstaging.guard_staging_removal'),
                    ('%1$s_staging_guard_update', 'pgstaging.guard_pgstaging_writes'),
                    ('%1$s_staging_refuse_forged', 'pgstaging.refuse_forged_staging_row'),
                    ('%1$s_staging_refuse_rewrite', 'pgstaging.refuse_staging_rewrite'),
                    ('%1$s_staging_restage_owner_only', 'pgstaging.refuse_foreign_restage'),
                    ('%1$s_staging_rights_fill', 'pgstaging.fill_staging_actor'),
                    ('%1$s_staging_rights_guard', 'pgstaging.refuse_staging_without_right')$$, name),
    format('%s and %s_staging carry their guards', name, name)
)
FROM staged ORDER BY name;

-- Fixtures: one promoted posting (s1), one pending row in another run (s2).
INSERT INTO workflow_runs DEFAULT VALUES RETURNING workflow_run_id AS run1 \gset
INSERT INTO workflow_runs DEFAULT VALUES RETURNING workflow_run_id AS run2 \gset
SELECT set_config('role', :'script', true) AS _role \gset
INSERT INTO postings_staging (workflow_run_id, interaction_id, raw_data)
VALUES (:run1, 31, '{"job_id": "GUARD-1", "title": "Guarded"}')
RETURNING staging_id AS s1 \gset
INSERT INTO postings_staging (workflow_run_id, interaction_id, raw_data)
VALUES (:run2, 32, '{"job_id": "GUARD-2", "title": "Pending"}')
RETURNING staging_id AS s2 \gset
SELECT set_config('role', :'validator', true) AS _role \gset
SELECT promote_postings_staging(:run1) AS promote_result \gset
SELECT coalesce(pg_catalog.current_setting('pgstaging.writer', true), '<unset>') AS writer_after \gset
RESET ROLE;

SELECT is((:'promote_result'::jsonb ->> 'promoted_count')::integer, 1, 'fixture: one row promoted');
SELECT isnt(:'writer_after'::text, 'on'::text, 'the pgstaging.writer flag does not outlive promote_postings_staging');

-- ---------------------------------------------------------------------------
-- Far too broad: the script role gets every privilege on every staged table.
-- ---------------------------------------------------------------------------
SELECT format('GRANT ALL ON TABLE %s TO %I', string_agg(format('%I, %I', s.name, s.name || '_staging'), ', '), :'script')
FROM staged AS s \gexec
SELECT table_privs_are('public', 'postings', :'script',
                       ARRAY['DELETE', 'INSERT', 'REFERENCES', 'SELECT', 'TRIGGER', 'TRUNCATE', 'UPDATE'],
                       'setup: the script role now holds every privilege on postings');

SELECT set_config('role', :'script', true) AS _role \gset

-- Every staged table: production is not writable, verdicts are not
-- writable, staged rows are not removable, forged rows are refused.
SELECT throws_ok(format('INSERT INTO %I DEFAULT VALUES', name), '42501',
                 format('pgstaging: INSERT on public.%s is refused', name),
                 format('GRANT ALL, script: INSERT into %s is refused by the guard', name))
FROM staged ORDER BY name;
SELECT throws_ok(format('UPDATE %I SET created_at = created_at', name), '42501',
                 format('pgstaging: UPDATE on public.%s is refused', name),
                 format('GRANT ALL, script: UPDATE of %s is refused by the guard', name))
FROM staged ORDER BY name;
SELECT throws_ok(format('DELETE FROM %I', name), '42501',
                 format('pgstaging: DELETE on public.%s is refused', name),
                 format('GRANT ALL, script: DELETE from %s is refused by the guard', name))
FROM staged ORDER BY name;
SELECT matches(pg_temp.raised(format('TRUNCATE %I CASCADE', name)),
               '^42501: pgstaging: TRUNCATE on public\.\w+ is refused$',
               format('GRANT ALL, script: TRUNCATE %s CASCADE is refused by a guard', name))
FROM staged ORDER BY name;
SELECT throws_ok(format('UPDATE %I_staging SET validated = true, outcome = ''failed'', validation_errors = ''[]''', name), '42501',
                 format('pgstaging: UPDATE on public.%s_staging is refused', name),
                 format('GRANT ALL, script: writing a verdict of %s_staging is refused by the guard', name))
FROM staged ORDER BY name;
SELECT throws_ok(format('DELETE FROM %I_staging', name), '42501',
                 format('pgstaging: DELETE on public.%s_staging is refused', name),
                 format('GRANT ALL, script: DELETE from %s_staging is refused by the guard', name))
FROM staged ORDER BY name;
SELECT matches(pg_temp.raised(format('TRUNCATE %I_staging CASCADE', name)),
               '^42501: pgstaging: TRUNCATE on public\.\w+ is refused$',
               format('GRANT ALL, script: TRUNCATE %s_staging CASCADE is refused by a guard', name))
FROM staged ORDER BY name;
SELECT throws_ok(format($$INSERT INTO %I_staging (workflow_run_id, raw_data, validated, promoted, promoted_to_id, outcome)
                          VALUES (%s, '{}', true, true, 1, 'promoted')$$, name, :run2),
                 '42501', 'pgstaging: a staged row may not set its own verdict or provenance',
                 format('GRANT ALL, script: a forged "promoted" row in %s_staging is refused', name))
FROM staged ORDER BY name;

-- postings in depth: every forged column, and the flag.
SELECT lives_ok(
    format($$INSERT INTO postings_staging (workflow_run_id, actor_id, interaction_id, raw_data) VALUES (%s, NULL, 33, '{}')$$, :run2),
    'GRANT ALL, script: an honest INSERT still passes'
);
SELECT throws_ok(
    format($$INSERT INTO postings_staging (workflow_run_id, raw_data, %I) VALUES (%s, '{}', %s)$$, c.col, :run2, c.val),
    '42501', 'pgstaging: a staged row may not set its own verdict or provenance',
    pg_catalog.format('GRANT ALL, script: a forged %s is refused', c.col)
)
FROM (VALUES ('validated', 'true'), ('promoted', 'true'), ('outcome', '''promoted'''),
             ('validation_errors', '''[]'''), ('validated_at', 'now()'), ('validated_by', 'session_user'),
             ('rule_version', '1'), ('promoted_to_id', '1'), ('promoted_at', 'now()'),
             ('rolled_back_at', 'now()'), ('rolled_back_by', 'session_user'), ('rollback_reason', '''x'''),
             ('inserted_by', '''someone_else'''), ('created_at', '''2000-01-01''')) AS c (col, val);
SELECT throws_ok(
    format($$INSERT INTO postings_staging (workflow_run_id, raw_data, supersedes_staging_id) VALUES (%s, '{}', %s)$$, :run2, :s2),
    '42501', 'pgstaging: only the owner may re-stage a row',
    'GRANT ALL, script: a row claiming to supersede another is refused'
);
SELECT throws_ok(
    format($$UPDATE postings_staging SET raw_data = '{"job_id": "SWAPPED", "title": "x"}' WHERE staging_id = %s$$, :s2),
    '42501', 'pgstaging: UPDATE on public.postings_staging is refused', 'GRANT ALL, script: rewriting raw_data is refused'
);

-- The flag alone opens nothing: it needs the owner as current_user.
SET LOCAL pgstaging.writer = 'on'; -- noqa: PRS
SELECT throws_ok(
    $$INSERT INTO postings (external_job_id, source_website, job_title) VALUES ('FORGED', 'x', 'x')$$,
    '42501', 'pgstaging: INSERT on public.postings is refused', 'GRANT ALL + pgstaging.writer=on, script: INSERT into postings is refused'
);
SELECT throws_ok('UPDATE postings SET job_title = ''hacked''', '42501', 'pgstaging: UPDATE on public.postings is refused',
                 'GRANT ALL + pgstaging.writer=on, script: UPDATE of postings is refused');
SELECT throws_ok(
    format($$UPDATE postings_staging SET validated = true, outcome = 'failed', validation_errors = '[]' WHERE staging_id = %s$$, :s2),
    '42501', 'pgstaging: UPDATE on public.postings_staging is refused',
    'GRANT ALL + pgstaging.writer=on, script: writing a verdict is refused'
);
SELECT throws_ok('DELETE FROM postings_staging', '42501', 'pgstaging: DELETE on public.postings_staging is refused',
                 'GRANT ALL + pgstaging.writer=on, script: DELETE of staging is refused');
SET LOCAL pgstaging.writer = 'off'; -- noqa: PRS

RESET ROLE;

-- The validator, granted too much, is still no writer.
SELECT format('GRANT ALL ON TABLE postings, postings_staging TO %I', :'validator') \gexec
SELECT set_config('role', :'validator', true) AS _role \gset
SET LOCAL pgstaging.writer = 'on'; -- noqa: PRS
SELECT throws_ok(
    $$INSERT INTO postings (external_job_id, source_website, job_title) VALUES ('FORGED', 'x', 'x')$$,
    '42501', 'pgstaging: INSERT on public.postings is refused', 'GRANT ALL + pgstaging.writer=on, validator: INSERT into postings is refused'
);
SELECT throws_ok(
    format($$UPDATE postings_staging SET validated = true, outcome = 'failed', validation_errors = '[]' WHERE staging_id = %s$$, :s2),
    '42501', 'pgstaging: UPDATE on public.postings_staging is refused',
    'GRANT ALL + pgstaging.writer=on, validator: writing a verdict directly is refused'
);
SET LOCAL pgstaging.writer = 'off'; -- noqa: PRS
RESET ROLE;

-- A superuser that is not the owner is refused too (it can only get past by
-- becoming the owner, below).
SET LOCAL pgstaging.writer = 'on'; -- noqa: PRS
SELECT throws_ok(
    $$INSERT INTO postings (external_job_id, source_website, job_title) VALUES ('FORGED', 'x', 'x')$$,
    '42501', 'pgstaging: INSERT on public.postings is refused', 'superuser (not the owner): INSERT into postings is refused'
);
SELECT throws_ok('DELETE FROM postings_staging', '42501', 'pgstaging: DELETE on public.postings_staging is refused',
                 'superuser (not the owner): DELETE of staging is refused');
SET LOCAL pgstaging.writer = 'off'; -- noqa: PRS

-- ---------------------------------------------------------------------------
-- The table owner.
-- ---------------------------------------------------------------------------
SELECT set_config('role', :'owner', true) AS _role \gset

-- Without the flag the statement guard refuses even the owner.
SELECT throws_ok(
    format($$UPDATE postings_staging SET validated = true, outcome = 'failed', validation_errors = '[]' WHERE staging_id = %s$$, :s2),
    '42501', 'pgstaging: UPDATE on public.postings_staging is refused', 'owner without pgstaging.writer: writing a verdict is refused'
);
SELECT throws_ok(
    $$INSERT INTO postings (external_job_id, source_website, job_title) VALUES ('FORGED', 'x', 'x')$$,
    '42501', 'pgstaging: INSERT on public.postings is refused', 'owner without pgstaging.writer: INSERT into postings is refused'
);

-- With the flag the owner passes the statement guard (this is how promotion
-- writes)...
SET LOCAL pgstaging.writer = 'on'; -- noqa: PRS
SELECT lives_ok(
    format($$UPDATE postings_staging SET validated = true, outcome = 'failed', validation_errors = '[]' WHERE staging_id = %s$$, :s2),
    'owner + pgstaging.writer=on: a verdict update passes the statement guard'
);

-- ...but what was staged stays as staged, for the owner too: the row-level
-- trigger postings_staging_refuse_rewrite.
SELECT throws_ok(
    format($$UPDATE postings_staging SET %I = %s WHERE staging_id = %s$$, c.col, c.val, :s1),
    '42501', pg_catalog.format('pgstaging: raw_data and provenance of staged row %s are immutable', :s1),
    pg_catalog.format('owner + pgstaging.writer=on: rewriting %s is refused', c.col)
)
FROM (VALUES ('raw_data', $$'{"job_id": "GUARD-1", "title": "Rewritten"}'$$),
             ('staging_id', 'DEFAULT'),
             ('workflow_run_id', :run2::text),
             ('actor_id', '0'),
             ('interaction_id', '999'),
             ('supersedes_staging_id', :s2::text),
             ('inserted_by', 'current_user'),
             ('created_at', '''2000-01-01''')) AS c (col, val);
SELECT throws_ok(
    'UPDATE postings_staging SET raw_data = raw_data || ''{"title": "Rewritten"}''',
    '42501', NULL, 'owner + pgstaging.writer=on: a bulk raw_data rewrite is refused'
);

-- Forged inserts are refused for the owner as well.
SELECT throws_ok(
    format($$INSERT INTO postings_staging (workflow_run_id, raw_data, validated, validation_errors, outcome)
             VALUES (%s, '{}', true, '[]', 'failed')$$, :run2),
    '42501', 'pgstaging: a staged row may not set its own verdict or provenance', 'owner: a forged verdict at INSERT is refused'
);
SELECT throws_ok(
    format($$INSERT INTO postings_staging (workflow_run_id, raw_data, inserted_by) VALUES (%s, '{}', 'someone_else')$$, :run2),
    '42501', 'pgstaging: a staged row may not set its own verdict or provenance', 'owner: a forged inserted_by is refused'
);
SET LOCAL pgstaging.writer = 'off'; -- noqa: PRS

-- Retention is the owner's: it may delete staged rows nothing refers to.
SELECT lives_ok(
    format('DELETE FROM postings_staging WHERE staging_id = %s', :s2),
    'owner: DELETE of an unreferenced staged row is allowed (retention)'
);

RESET ROLE;

-- Nothing above changed what was staged or promoted.
SELECT results_eq(
    format($$SELECT s.raw_data, s.workflow_run_id, s.interaction_id, s.inserted_by::text, s.outcome, p.job_title
             FROM postings_staging AS s JOIN postings AS p ON p.posting_id = s.promoted_to_id
             WHERE s.staging_id = %s$$, :s1),
    format($$VALUES ('{"job_id": "GUARD-1", "title": "Guarded"}'::jsonb, %s, 31::bigint, session_user::text, 'promoted', 'Guarded')$$, :run1),
    'the promoted row and its posting are exactly as before'
);
SELECT is((SELECT count(*) FROM postings WHERE external_job_id = 'FORGED'), 0::bigint, 'no forged posting exists');
SELECT is(
    (SELECT count(*) FROM postings_staging WHERE workflow_run_id IN (:run1, :run2) AND validated),
    1::bigint, 'the only validated staged row is the one promote_postings_staging judged'
);
SELECT is((SELECT count(*) FROM postings_staging WHERE staging_id = :s2), 0::bigint, 'the owner''s retention delete happened');

SELECT * FROM finish();
ROLLBACK;
