-- Privileges: the exact allow-list of every pgstaging role and of PUBLIC,
-- then every refusal acted out under SET LOCAL ROLE.
--
-- has_*_privilege (which pgTAP uses) reports effective privileges: what a
-- role holds directly, through PUBLIC and through the roles it inherits.
-- So staging_validator shows staging_reader's SELECTs, and every role shows
-- what PUBLIC holds.
BEGIN;
SELECT plan(400);

-- ---------------------------------------------------------------------------
-- The matrix. Catalogue checks first, so that a table, column or function
-- added without a row here fails instead of going unchecked.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE expected_columns (
    tbl text,
    col name,
    script_privs text[]
);
INSERT INTO expected_columns VALUES
    ('public.postings_staging', 'staging_id', '{SELECT}'),
    ('public.postings_staging', 'workflow_run_id', '{INSERT}'),
    ('public.postings_staging', 'actor_id', '{INSERT}'),
    ('public.postings_staging', 'interaction_id', '{INSERT}'),
    ('public.postings_staging', 'raw_data', '{INSERT}'),
    ('public.postings_staging', 'validated', '{}'),
    ('public.postings_staging', 'validation_errors', '{}'),
    ('public.postings_staging', 'validated_at', '{}'),
    ('public.postings_staging', 'validated_by', '{}'),
    ('public.postings_staging', 'promoted', '{}'),
    ('public.postings_staging', 'promoted_to_id', '{}'),
    ('public.postings_staging', 'promoted_at', '{}'),
    ('public.postings_staging', 'outcome', '{}'),
    ('public.postings_staging', 'inserted_by', '{}'),
    ('public.postings_staging', 'created_at', '{}'),
    ('public.postings', 'posting_id', '{}'),
    ('public.postings', 'external_job_id', '{}'),
    ('public.postings', 'source_website', '{}'),
    ('public.postings', 'job_title', '{}'),
    ('public.postings', 'job_description', '{}'),
    ('public.postings', 'company_name', '{}'),
    ('public.postings', 'location', '{}'),
    ('public.postings', 'created_by_staging_id', '{}'),
    ('public.postings', 'created_by_interaction_id', '{}'),
    ('public.postings', 'created_at', '{}'),
    ('public.postings', 'updated_by_staging_id', '{}'),
    ('public.postings', 'updated_by_interaction_id', '{}'),
    ('public.postings', 'updated_at', '{}'),
    ('public.postings', 'enabled', '{}'),
    ('public.postings', 'invalidated', '{}'),
    ('public.workflow_runs', 'workflow_run_id', '{}'),
    ('public.workflow_runs', 'started_at', '{}'),
    ('public.actors', 'actor_id', '{SELECT}'),
    ('public.actors', 'actor_name', '{SELECT}'),
    ('pgstaging.staged_tables', 'table_name', '{SELECT}'),
    ('pgstaging.staged_tables', 'production_table', '{SELECT}'),
    ('pgstaging.staged_tables', 'staging_table', '{SELECT}'),
    ('pgstaging.staged_tables', 'promote_function', '{SELECT}'),
    ('pgstaging.installs', 'install_id', '{}'),
    ('pgstaging.installs', 'version', '{}'),
    ('pgstaging.installs', 'checksum', '{}'),
    ('pgstaging.installs', 'target_schema', '{}'),
    ('pgstaging.installs', 'installed_by', '{}'),
    ('pgstaging.installs', 'installed_at', '{}');

-- Functions: signature, and who may execute it (beyond the owner).
-- 'all' = PUBLIC keeps its default EXECUTE: SECURITY INVOKER functions whose
-- caller's own grants decide what they can touch.
CREATE TEMP TABLE expected_functions (
    sig text,
    script_privs text[],
    validator_privs text[],
    reader_privs text[],
    public_privs text[]
);
INSERT INTO expected_functions VALUES
    -- SECURITY DEFINER: explicit grants only.
    ('public.promote_postings_staging(integer)', '{}', '{EXECUTE}', '{}', '{}'),
    ('pgstaging.run_exists(integer)', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}', '{}'),
    -- Installer helper and trigger functions: nobody.
    ('pgstaging.grant_select_all_columns(regclass,name)', '{}', '{}', '{}', '{}'),
    ('pgstaging.guard_pgstaging_writes()', '{}', '{}', '{}', '{}'),
    ('pgstaging.guard_staging_removal()', '{}', '{}', '{}', '{}'),
    ('pgstaging.refuse_forged_staging_row()', '{}', '{}', '{}', '{}'),
    ('pgstaging.refuse_staging_rewrite()', '{}', '{}', '{}', '{}'),
    -- SECURITY INVOKER: pure helpers and the caller-privileged entry points.
    ('pgstaging.trim_ws(text)', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}'),
    ('pgstaging.field_error(text,text)', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}'),
    ('pgstaging.text_error(jsonb,boolean,integer)', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}'),
    ('pgstaging.text_value(jsonb)', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}'),
    ('pgstaging.key_error(jsonb,integer)', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}'),
    ('pgstaging.key_value(jsonb)', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}'),
    ('pgstaging.staged_table(text)', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}'),
    ('pgstaging.promote(text,integer)', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}'),
    ('pgstaging.run_status(integer)', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}'),
    ('pgstaging.run_failures(text,integer)', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}', '{EXECUTE}');

-- pgstaging's own functions: those in public and pgstaging that belong to no
-- extension (pgTAP and plpgsql_check live in public too).
CREATE TEMP VIEW own_functions AS
SELECT p.oid, p.oid::regprocedure::text AS sig, p.prosecdef
FROM pg_catalog.pg_proc AS p
WHERE p.pronamespace IN ('public'::regnamespace, 'pgstaging'::regnamespace)
  AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_depend AS d
      WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  );

SELECT set_eq(
    $$SELECT c.oid::regclass::text, a.attname
      FROM pg_catalog.pg_attribute AS a
      JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
      WHERE c.oid IN ('public.postings_staging'::regclass, 'public.postings'::regclass,
                      'public.workflow_runs'::regclass, 'public.actors'::regclass,
                      'pgstaging.staged_tables'::regclass, 'pgstaging.installs'::regclass)
        AND a.attnum > 0 AND NOT a.attisdropped$$,
    $$SELECT regexp_replace(tbl, '^public\.', ''), col FROM expected_columns$$,
    'the column matrix below lists every column of the six tables'
);

SELECT set_eq(
    $$SELECT regexp_replace(sig, '^public\.', '') FROM own_functions$$,
    $$SELECT regexp_replace(sig, '^public\.', '') FROM expected_functions$$,
    'the function matrix below lists every pgstaging function in public and pgstaging'
);

SELECT set_eq(
    $$SELECT sig FROM own_functions WHERE prosecdef$$,
    $$VALUES ('promote_postings_staging(integer)'), ('pgstaging.run_exists(integer)')$$,
    'exactly two functions are SECURITY DEFINER'
);

SELECT is_empty(
    $$SELECT sig FROM own_functions
      WHERE prosecdef AND pg_catalog.has_function_privilege('public', oid, 'EXECUTE')$$,
    'PUBLIC has no EXECUTE on any SECURITY DEFINER function'
);

-- Roles: group roles, no attributes, and one membership only.
SELECT results_eq(
    $$SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolinherit
      FROM pg_catalog.pg_roles
      WHERE rolname IN ('staging_script', 'staging_validator', 'staging_reader')
      ORDER BY rolname$$,
    $$VALUES ('staging_reader'::name, false, false, false, false, false, true),
             ('staging_script'::name, false, false, false, false, false, true),
             ('staging_validator'::name, false, false, false, false, false, true)$$,
    'the three group roles are NOLOGIN with no special attributes'
);

SELECT results_eq(
    $$SELECT m.member::regrole::text, m.roleid::regrole::text
      FROM pg_catalog.pg_auth_members AS m
      WHERE m.member IN ('staging_script'::regrole, 'staging_validator'::regrole, 'staging_reader'::regrole)
      ORDER BY 1, 2$$,
    $$VALUES ('staging_validator', 'staging_reader')$$,
    'staging_validator is a member of staging_reader, and that is the only membership'
);

SELECT is_empty(
    $$SELECT c.oid::regclass, r.rolname
      FROM pg_catalog.pg_class AS c
      CROSS JOIN (VALUES ('staging_script'), ('staging_validator'), ('staging_reader'), ('public')) AS r (rolname)
      WHERE c.relkind = 'S' AND c.relnamespace IN ('public'::regnamespace, 'pgstaging'::regnamespace)
        AND (pg_catalog.has_sequence_privilege(r.rolname, c.oid, 'USAGE')
             OR pg_catalog.has_sequence_privilege(r.rolname, c.oid, 'SELECT')
             OR pg_catalog.has_sequence_privilege(r.rolname, c.oid, 'UPDATE'))$$,
    'no role and not PUBLIC holds any privilege on a sequence'
);

-- Schemas: USAGE, never CREATE (a writable schema on the path of a
-- SECURITY DEFINER function would be a hijack).
SELECT schema_privs_are('public', 'staging_script', ARRAY['USAGE'], 'staging_script: USAGE on public');
SELECT schema_privs_are('public', 'staging_validator', ARRAY['USAGE'], 'staging_validator: USAGE on public');
SELECT schema_privs_are('public', 'staging_reader', ARRAY['USAGE'], 'staging_reader: USAGE on public');
SELECT schema_privs_are('public', 'public', ARRAY['USAGE'], 'PUBLIC: USAGE on public, no CREATE');
SELECT schema_privs_are('pgstaging', 'staging_script', ARRAY['USAGE'], 'staging_script: USAGE on pgstaging');
SELECT schema_privs_are('pgstaging', 'staging_validator', ARRAY['USAGE'], 'staging_validator: USAGE on pgstaging');
SELECT schema_privs_are('pgstaging', 'staging_reader', ARRAY['USAGE'], 'staging_reader: USAGE on pgstaging');
SELECT schema_privs_are('pgstaging', 'public', ARRAY[]::name[], 'PUBLIC: nothing on pgstaging');

-- Tables: no table-level privilege for anyone; column grants only.
SELECT table_privs_are(t.sch, t.tbl, r.rolname, ARRAY[]::name[],
                       pg_catalog.format('%s: no table-level privilege on %s.%s', r.rolname, t.sch, t.tbl))
FROM (VALUES ('public', 'postings_staging'), ('public', 'postings'), ('public', 'workflow_runs'),
             ('public', 'actors'), ('pgstaging', 'staged_tables'), ('pgstaging', 'installs'),
             ('pgstaging', 'postings_staging_judged')) AS t (sch, tbl)
CROSS JOIN (VALUES ('staging_script'), ('staging_validator'), ('staging_reader'), ('public')) AS r (rolname)
ORDER BY t.sch, t.tbl, r.rolname;

-- Columns: reader reads every column; validator inherits that; script gets
-- its few; PUBLIC nothing.
SELECT column_privs_are(
    split_part(e.tbl, '.', 1), split_part(e.tbl, '.', 2), e.col, r.rolname,
    CASE r.rolname
        WHEN 'staging_script' THEN e.script_privs
        WHEN 'public' THEN '{}'
        ELSE '{SELECT}'
    END::name[],
    pg_catalog.format('%s: exactly %s on %s.%s', r.rolname,
        CASE r.rolname WHEN 'staging_script' THEN e.script_privs::text WHEN 'public' THEN '{}' ELSE '{SELECT}' END,
        e.tbl, e.col)
)
FROM expected_columns AS e
CROSS JOIN (VALUES ('staging_script'), ('staging_validator'), ('staging_reader'), ('public')) AS r (rolname)
ORDER BY e.tbl, e.col, r.rolname;

-- Functions.
SELECT function_privs_are(
    f.sch, f.fn, f.args, r.rolname,
    (CASE r.rolname
        WHEN 'staging_script' THEN e.script_privs
        WHEN 'staging_validator' THEN e.validator_privs
        WHEN 'staging_reader' THEN e.reader_privs
        ELSE e.public_privs
    END)::name[],
    pg_catalog.format('%s: %s on %s',
        CASE r.rolname WHEN 'public' THEN 'PUBLIC' ELSE r.rolname END,
        CASE WHEN (CASE r.rolname
                       WHEN 'staging_script' THEN e.script_privs
                       WHEN 'staging_validator' THEN e.validator_privs
                       WHEN 'staging_reader' THEN e.reader_privs
                       ELSE e.public_privs
                   END) = '{}' THEN 'no EXECUTE' ELSE 'EXECUTE' END,
        e.sig)
)
FROM expected_functions AS e
CROSS JOIN LATERAL (
    SELECT coalesce(nullif(split_part(split_part(e.sig, '(', 1), '.', 1), ''), 'public') AS sch,
           split_part(split_part(e.sig, '(', 1), '.', 2) AS fn,
           coalesce(
               string_to_array(nullif(rtrim(split_part(e.sig, '(', 2), ')'), ''), ','),
               ARRAY[]::text[]
           )::name[] AS args
) AS f
CROSS JOIN (VALUES ('staging_script'), ('staging_validator'), ('staging_reader'), ('public')) AS r (rolname)
ORDER BY e.sig, r.rolname;

-- ---------------------------------------------------------------------------
-- Refusals, acted out. Fixtures first, as the superuser.
-- ---------------------------------------------------------------------------
INSERT INTO workflow_runs DEFAULT VALUES RETURNING workflow_run_id AS run \gset
INSERT INTO postings_staging (workflow_run_id, raw_data)
VALUES (:run, '{"job_id": "PRIV-1", "title": "privileges"}')
RETURNING staging_id AS sid \gset

-- staging_script ------------------------------------------------------------
SET LOCAL ROLE staging_script;

SELECT lives_ok(
    format($$INSERT INTO postings_staging (workflow_run_id, actor_id, interaction_id, raw_data)
             VALUES (%s, NULL, 1, '{"job_id": "S-1", "title": "t"}') RETURNING staging_id$$, :run),
    'script: may INSERT its four columns and read back staging_id'
);
SELECT lives_ok('SELECT staging_id FROM postings_staging', 'script: may SELECT staging_id');
SELECT lives_ok('SELECT actor_id, actor_name FROM actors', 'script: may resolve actor names');
SELECT lives_ok('SELECT * FROM pgstaging.staged_tables', 'script: may read the staged-table registry');
SELECT is(pgstaging.run_exists(:run), true, 'script: may call pgstaging.run_exists');

SELECT throws_ok('SELECT raw_data FROM postings_staging', '42501', NULL, 'script: SELECT raw_data is refused');
SELECT throws_ok('SELECT * FROM postings_staging', '42501', NULL, 'script: SELECT * of staging is refused');
SELECT throws_ok('SELECT outcome FROM postings_staging', '42501', NULL, 'script: SELECT of a verdict is refused');
SELECT throws_ok(
    format($$INSERT INTO postings_staging (workflow_run_id, raw_data) VALUES (%s, '{}') RETURNING *$$, :run),
    '42501', NULL, 'script: INSERT ... RETURNING * is refused'
);
SELECT throws_ok('UPDATE postings_staging SET raw_data = ''{}''', '42501', NULL, 'script: UPDATE raw_data is refused');
SELECT throws_ok('UPDATE postings_staging SET validated = true', '42501', NULL, 'script: UPDATE of a verdict is refused');
SELECT throws_ok('DELETE FROM postings_staging', '42501', NULL, 'script: DELETE of staging is refused');
SELECT throws_ok('TRUNCATE postings_staging', '42501', NULL, 'script: TRUNCATE of staging is refused');

SELECT throws_ok(
    format($$INSERT INTO postings_staging (workflow_run_id, raw_data, %I) VALUES (%s, '{}', %s)$$, c.col, :run, c.val),
    '42501', NULL, pg_catalog.format('script: INSERT of %s is refused', c.col)
)
FROM (VALUES ('validated', 'true'), ('promoted', 'true'), ('outcome', '''promoted'''),
             ('validation_errors', '''[]'''), ('validated_at', 'now()'), ('validated_by', 'session_user'),
             ('promoted_to_id', '1'), ('promoted_at', 'now()'), ('inserted_by', 'session_user'),
             ('created_at', 'now()')) AS c (col, val);

SELECT throws_ok(
    $$INSERT INTO postings (external_job_id, source_website, job_title) VALUES ('X', 'x', 'x')$$,
    '42501', NULL, 'script: INSERT into postings is refused'
);
SELECT throws_ok('UPDATE postings SET job_title = ''x''', '42501', NULL, 'script: UPDATE of postings is refused');
SELECT throws_ok('DELETE FROM postings', '42501', NULL, 'script: DELETE from postings is refused');
SELECT throws_ok('TRUNCATE postings', '42501', NULL, 'script: TRUNCATE of postings is refused');
SELECT throws_ok('SELECT posting_id FROM postings', '42501', NULL, 'script: SELECT from postings is refused');
SELECT throws_ok(format('SELECT promote_postings_staging(%s)', :run), '42501', NULL,
                 'script: calling promote_postings_staging is refused');
SELECT throws_ok(format('SELECT pgstaging.promote(''postings'', %s)', :run), '42501', NULL,
                 'script: the generic pgstaging.promote is refused too');
SELECT throws_ok(format('SELECT * FROM pgstaging.run_status(%s)', :run), '42501', NULL,
                 'script: run_status (reads verdicts) is refused');
SELECT throws_ok(format('SELECT * FROM pgstaging.run_failures(''postings'', %s)', :run), '42501', NULL,
                 'script: run_failures (reads raw_data) is refused');
SELECT throws_ok('SELECT * FROM pgstaging.postings_staging_judged', '42501', NULL,
                 'script: the rules view is refused');
SELECT throws_ok('SELECT * FROM workflow_runs', '42501', NULL, 'script: SELECT from workflow_runs is refused');
SELECT throws_ok('INSERT INTO workflow_runs DEFAULT VALUES', '42501', NULL, 'script: INSERT into workflow_runs is refused');
SELECT throws_ok('INSERT INTO actors (actor_name) VALUES (''me'')', '42501', NULL, 'script: INSERT into actors is refused');
SELECT throws_ok('UPDATE actors SET actor_name = actor_name', '42501', NULL, 'script: UPDATE of actors is refused');
SELECT throws_ok('SELECT * FROM pgstaging.installs', '42501', NULL, 'script: SELECT from the install ledger is refused');
SELECT throws_ok(
    $$INSERT INTO pgstaging.staged_tables VALUES ('x', 'postings', 'postings_staging', 'promote_postings_staging(integer)')$$,
    '42501', NULL, 'script: writing the registry is refused'
);
SELECT throws_ok($$SELECT pgstaging.grant_select_all_columns('postings', 'staging_script')$$, '42501', NULL,
                 'script: the installer''s grant helper is refused');
SELECT throws_ok('CREATE TABLE public.tap_x (i integer)', '42501', NULL, 'script: CREATE in public is refused');
SELECT throws_ok('CREATE TABLE pgstaging.tap_x (i integer)', '42501', NULL, 'script: CREATE in pgstaging is refused');

RESET ROLE;

-- staging_validator ---------------------------------------------------------
SET LOCAL ROLE staging_validator;

SELECT lives_ok('SELECT * FROM postings_staging', 'validator: may read staging');
SELECT lives_ok('SELECT * FROM postings', 'validator: may read postings');
SELECT throws_ok(
    $$INSERT INTO postings (external_job_id, source_website, job_title) VALUES ('X', 'x', 'x')$$,
    '42501', NULL, 'validator: INSERT into postings is refused'
);
SELECT throws_ok('UPDATE postings SET job_title = ''x''', '42501', NULL, 'validator: UPDATE of postings is refused');
SELECT throws_ok('DELETE FROM postings', '42501', NULL, 'validator: DELETE from postings is refused');
SELECT throws_ok('TRUNCATE postings', '42501', NULL, 'validator: TRUNCATE of postings is refused');
SELECT throws_ok(
    format($$INSERT INTO postings_staging (workflow_run_id, raw_data) VALUES (%s, '{}')$$, :run),
    '42501', NULL, 'validator: INSERT into staging is refused'
);
SELECT throws_ok('UPDATE postings_staging SET validated = true', '42501', NULL,
                 'validator: writing a verdict directly is refused');
SELECT throws_ok('DELETE FROM postings_staging', '42501', NULL, 'validator: DELETE of staging is refused');
SELECT throws_ok('TRUNCATE postings_staging', '42501', NULL, 'validator: TRUNCATE of staging is refused');
SELECT throws_ok('INSERT INTO workflow_runs DEFAULT VALUES', '42501', NULL, 'validator: INSERT into workflow_runs is refused');
SELECT throws_ok($$SELECT pgstaging.grant_select_all_columns('postings', 'staging_validator')$$, '42501', NULL,
                 'validator: the installer''s grant helper is refused');

RESET ROLE;

-- staging_reader ------------------------------------------------------------
SET LOCAL ROLE staging_reader;

SELECT lives_ok(format('SELECT * FROM %s', t), 'reader: may read every column of ' || t)
FROM unnest(ARRAY['postings_staging', 'postings', 'workflow_runs', 'actors',
                  'pgstaging.staged_tables', 'pgstaging.installs']) AS t;

SELECT throws_ok(w.stmt, '42501', NULL, 'reader: refused: ' || w.stmt)
FROM (VALUES
    ($$INSERT INTO postings_staging (workflow_run_id, raw_data) VALUES (1, '{}')$$),
    ('UPDATE postings_staging SET validated = true'),
    ('DELETE FROM postings_staging'),
    ('TRUNCATE postings_staging'),
    ($$INSERT INTO postings (external_job_id, source_website, job_title) VALUES ('X', 'x', 'x')$$),
    ('UPDATE postings SET job_title = job_title'),
    ('DELETE FROM postings'),
    ('TRUNCATE postings'),
    ('INSERT INTO workflow_runs DEFAULT VALUES'),
    ('UPDATE workflow_runs SET started_at = started_at'),
    ('DELETE FROM workflow_runs'),
    ('TRUNCATE workflow_runs'),
    ($$INSERT INTO actors (actor_name) VALUES ('me')$$),
    ('UPDATE actors SET actor_name = actor_name'),
    ('DELETE FROM actors'),
    ('TRUNCATE actors'),
    ($$INSERT INTO pgstaging.staged_tables VALUES ('x', 'postings', 'postings_staging', 'promote_postings_staging(integer)')$$),
    ('UPDATE pgstaging.staged_tables SET table_name = table_name'),
    ('DELETE FROM pgstaging.staged_tables'),
    ('TRUNCATE pgstaging.staged_tables'),
    ($$INSERT INTO pgstaging.installs (version, checksum, target_schema) VALUES ('x', 'x', 'public')$$),
    ('UPDATE pgstaging.installs SET version = version'),
    ('DELETE FROM pgstaging.installs'),
    ('TRUNCATE pgstaging.installs')
) AS w (stmt);

SELECT throws_ok(format('SELECT promote_postings_staging(%s)', :run), '42501', NULL,
                 'reader: calling promote_postings_staging is refused');

RESET ROLE;

-- PUBLIC: a role with no membership at all (rolled back with the rest) --------
CREATE ROLE pgstaging_tap_nobody NOLOGIN;
GRANT SELECT ON expected_functions TO pgstaging_tap_nobody;  -- the test's own list
SET LOCAL ROLE pgstaging_tap_nobody;

SELECT throws_ok(format('SELECT * FROM %s', t), '42501', NULL, 'PUBLIC: reading is refused: ' || t)
FROM unnest(ARRAY['postings_staging', 'postings', 'workflow_runs', 'actors',
                  'pgstaging.staged_tables', 'pgstaging.installs']) AS t;
SELECT throws_ok('SELECT staging_id FROM postings_staging', '42501', NULL, 'PUBLIC: even staging_id is refused');

-- Every function: refused (pgstaging's are out of reach without USAGE).
SELECT throws_ok(
    format('SELECT %s(%s)', split_part(sig, '(', 1),
           (SELECT string_agg('NULL::' || a, ', ')
            FROM unnest(string_to_array(nullif(rtrim(split_part(sig, '(', 2), ')'), ''), ',')) AS a)),
    '42501', NULL, 'PUBLIC: calling is refused: ' || sig
)
FROM expected_functions
ORDER BY sig;

RESET ROLE;

-- PUBLIC with USAGE on pgstaging: EXECUTE itself is what refuses, not just
-- the schema.
GRANT USAGE ON SCHEMA pgstaging TO pgstaging_tap_nobody;
SET LOCAL ROLE pgstaging_tap_nobody;

SELECT throws_ok(format('SELECT pgstaging.run_exists(%s)', :run), '42501', NULL,
                 'PUBLIC with schema USAGE: run_exists (SECURITY DEFINER) is still refused');
SELECT throws_ok(format('SELECT promote_postings_staging(%s)', :run), '42501', NULL,
                 'PUBLIC with schema USAGE: promote_postings_staging is still refused');
SELECT throws_ok($$SELECT pgstaging.grant_select_all_columns('postings', 'pgstaging_tap_nobody')$$, '42501', NULL,
                 'PUBLIC with schema USAGE: the grant helper is still refused');
SELECT throws_ok(format('SELECT * FROM pgstaging.run_status(%s)', :run), '42501', NULL,
                 'PUBLIC with schema USAGE: run_status cannot read staging');

RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
