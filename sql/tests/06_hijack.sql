-- Hijack attempts: whatever the caller plants in its own session (temp
-- tables, functions and operators in a schema it can write, a hostile
-- search_path, custom settings), promotion gives exactly the result of the
-- clean case: same summaries, same staged verdicts, same production rows,
-- same log. Each scenario runs in a savepoint that is rolled back; the
-- sequences are reset so that ids match. Results are captured into psql
-- variables (\gset) while the hostile session state is in force, and
-- compared after it is gone (pgTAP itself is not built to survive it).
BEGIN;
SELECT plan(32);

SELECT pgstaging.group_role('script') AS script, pgstaging.group_role('validator') AS validator,
       pgstaging.group_role('reader') AS reader \gset
-- The script group role stages as one actor with stage on every table (a
-- fresh install enforces actor rights; 08_actor_rights tests them).
SELECT pgstaging.add_actor('pgtap_hijack', :'script') AS tap_actor \gset
SELECT count(*) AS _allowed
FROM pgstaging.staged_tables AS t, LATERAL (SELECT pgstaging.allow_actor('pgtap_hijack', t.table_name, 'stage')) AS a \gset

-- ---------------------------------------------------------------------------
-- Fixtures: run0 is promoted (existing rows), run1 is what every scenario
-- promotes.
-- ---------------------------------------------------------------------------
INSERT INTO workflow_runs DEFAULT VALUES RETURNING workflow_run_id AS run0 \gset
INSERT INTO workflow_runs DEFAULT VALUES RETURNING workflow_run_id AS run1 \gset

SELECT set_config('role', :'script', true) AS _role \gset
INSERT INTO postings_staging (workflow_run_id, raw_data) VALUES (:run0, '{"job_id": "EXIST-1", "title": "Existing"}');
INSERT INTO skill_aliases_staging (workflow_run_id, raw_data) VALUES (:run0, '{"alias": "Golang", "canonical": "Go"}');
INSERT INTO postings_staging (workflow_run_id, raw_data) VALUES
    (:run1, '{"job_id": " H-1 ", "title": "  Hijack one  ", "description": " d "}'),
    (:run1, '{"job_id": 42, "title": "Integer key"}'),
    (:run1, '{"job_id": "H-1", "title": "in-run duplicate"}'),
    (:run1, '{"job_id": "EXIST-1", "title": "cross-run duplicate"}'),
    (:run1, '[1]'),
    (:run1, '{"job_id": "H-2"}'),
    (:run1, jsonb_build_object('job_id', 'H-3', 'title', repeat('x', 501))),
    (:run1, '{"job_id": "H-4", "title": "ok", "location": 5}'),
    (:run1, '{"job_id": "H-5", "title": "Dev"}');
INSERT INTO skill_aliases_staging (workflow_run_id, raw_data) VALUES
    (:run1, '{"alias": " JS ", "canonical": "JavaScript"}'),
    (:run1, '{"alias": "js", "canonical": "JavaScript"}'),
    (:run1, '{"alias": "Python", "canonical": "python"}'),
    (:run1, '{"alias": "  Node   JS ", "canonical": "Node.js"}'),
    (:run1, '{"canonical": "x"}'),
    (:run1, '{"alias": "golang", "canonical": "Go"}');
SELECT set_config('role', :'validator', true) AS _role \gset
SELECT promote_postings_staging(:run0) AS _p0, promote_skill_aliases_staging(:run0) AS _a0 \gset
RESET ROLE;

-- What a scenario leaves behind, all of it, from the real tables.
CREATE TEMP VIEW snapshot AS
SELECT jsonb_build_object(
    'postings', (SELECT jsonb_agg(to_jsonb(p) ORDER BY p.posting_id) FROM public.postings AS p),
    'postings_staging', (SELECT jsonb_agg(to_jsonb(s) ORDER BY s.staging_id) FROM public.postings_staging AS s),
    'skill_aliases', (SELECT jsonb_agg(to_jsonb(a) ORDER BY a.skill_alias_id) FROM public.skill_aliases AS a),
    'skill_aliases_staging', (SELECT jsonb_agg(to_jsonb(s) ORDER BY s.staging_id) FROM public.skill_aliases_staging AS s),
    'log', (SELECT jsonb_agg(to_jsonb(l) - 'log_id' - 'started_at' - 'duration' ORDER BY l.log_id)
            FROM pgstaging.promotion_log AS l)
) AS state;

-- The next ids, to restart the sequences at before each scenario.
SELECT nextval(pg_get_serial_sequence('public.postings', 'posting_id')) AS next_posting,
       nextval(pg_get_serial_sequence('public.skill_aliases', 'skill_alias_id')) AS next_alias \gset

-- A schema the caller can write, as in a database that grants CREATE on
-- some schema to its users.
CREATE SCHEMA evil;
SELECT format('GRANT USAGE, CREATE ON SCHEMA evil TO %I', :'validator') \gexec
SELECT format('GRANT USAGE ON SCHEMA evil TO %I', :'script') \gexec

-- ---------------------------------------------------------------------------
-- A. Clean.
-- ---------------------------------------------------------------------------
SAVEPOINT scenario; -- noqa: PRS
SELECT setval(pg_get_serial_sequence('public.postings', 'posting_id'), :next_posting, false) AS _s1,
       setval(pg_get_serial_sequence('public.skill_aliases', 'skill_alias_id'), :next_alias, false) AS _s2 \gset
SELECT set_config('role', :'validator', true) AS _role \gset
SELECT public.promote_postings_staging(:run1) AS clean_postings,
       public.promote_skill_aliases_staging(:run1) AS clean_aliases \gset
RESET ROLE;
SELECT state AS clean_state FROM pg_temp.snapshot \gset
ROLLBACK TO SAVEPOINT scenario; -- noqa: PRS

SELECT is(
    ARRAY[(:'clean_postings'::jsonb ->> 'promoted_count')::integer, (:'clean_postings'::jsonb ->> 'duplicate_count')::integer,
          (:'clean_postings'::jsonb ->> 'failed_count')::integer],
    ARRAY[3, 2, 4],
    'clean: postings run1 promotes 3, links 2 duplicates, fails 4'
);
SELECT is(
    ARRAY[(:'clean_aliases'::jsonb ->> 'promoted_count')::integer, (:'clean_aliases'::jsonb ->> 'duplicate_count')::integer,
          (:'clean_aliases'::jsonb ->> 'failed_count')::integer],
    ARRAY[2, 2, 2],
    'clean: skill_aliases run1 promotes 2, links 2 duplicates, fails 2'
);
SELECT results_eq(
    format($$SELECT external_job_id, job_title, job_description FROM jsonb_to_recordset(%L::jsonb -> 'postings')
               AS p (external_job_id text, job_title text, job_description text) ORDER BY 1$$, :'clean_state'),
    $$VALUES ('42', 'Integer key', NULL), ('EXIST-1', 'Existing', NULL), ('H-1', 'Hijack one', 'd'), ('H-5', 'Dev', NULL)$$,
    'clean: the postings, trimmed'
);

-- ---------------------------------------------------------------------------
-- B. Temp tables named like pgstaging's, full of bait.
-- ---------------------------------------------------------------------------
SAVEPOINT scenario; -- noqa: PRS
SELECT setval(pg_get_serial_sequence('public.postings', 'posting_id'), :next_posting, false) AS _s1,
       setval(pg_get_serial_sequence('public.skill_aliases', 'skill_alias_id'), :next_alias, false) AS _s2 \gset
SELECT set_config('role', :'validator', true) AS _role \gset
CREATE TEMP TABLE postings (posting_id bigint, external_job_id text, job_title text, created_by_staging_id bigint,
                            updated_by_staging_id bigint);
INSERT INTO postings SELECT -g, 'H-' || g, 'bait', -g, NULL FROM generate_series(1, 5) AS g;
INSERT INTO postings VALUES (-42, '42', 'bait', -42, NULL);
CREATE TEMP TABLE postings_staging (staging_id bigint, workflow_run_id integer, interaction_id bigint, raw_data jsonb,
                                    validated boolean, outcome text, promoted boolean, promoted_to_id bigint);
INSERT INTO postings_staging
SELECT -g, :run1, NULL, '{"job_id": "BAIT", "title": "bait"}', false, NULL, false, NULL FROM generate_series(1, 3) AS g;
CREATE TEMP TABLE skill_aliases (skill_alias_id bigint, alias text, canonical text, created_by_staging_id bigint);
INSERT INTO skill_aliases VALUES (-1, 'js', 'bait', -1), (-2, 'node js', 'bait', -2);
CREATE TEMP TABLE skill_aliases_staging (staging_id bigint, workflow_run_id integer, raw_data jsonb, outcome text);
INSERT INTO skill_aliases_staging VALUES (-1, :run1, '{"alias": "bait", "canonical": "bait"}', NULL);
SELECT (SELECT count(*) FROM postings) AS b_probe_postings, (SELECT count(*) FROM postings_staging) AS b_probe_staging \gset
SELECT public.promote_postings_staging(:run1) AS b_postings,
       public.promote_skill_aliases_staging(:run1) AS b_aliases \gset
RESET ROLE;
SELECT state AS b_state FROM pg_temp.snapshot \gset
ROLLBACK TO SAVEPOINT scenario; -- noqa: PRS

SELECT is(ARRAY[:b_probe_postings, :b_probe_staging]::integer[], ARRAY[6, 3],
          'B (probe): in the caller''s session, postings and postings_staging are its temp tables');
SELECT is(:'b_postings'::jsonb, :'clean_postings'::jsonb, 'B temp tables: the postings summary is the clean one');
SELECT is(:'b_aliases'::jsonb, :'clean_aliases'::jsonb, 'B temp tables: the skill_aliases summary is the clean one');
SELECT is(:'b_state'::jsonb, :'clean_state'::jsonb, 'B temp tables: staged verdicts, production rows and log are the clean ones');

-- ---------------------------------------------------------------------------
-- C. Functions and operators planted in evil, first on an explicit path
--    (so they even shadow pg_catalog's in the caller's own queries).
-- ---------------------------------------------------------------------------
SAVEPOINT scenario; -- noqa: PRS
SELECT setval(pg_get_serial_sequence('public.postings', 'posting_id'), :next_posting, false) AS _s1,
       setval(pg_get_serial_sequence('public.skill_aliases', 'skill_alias_id'), :next_alias, false) AS _s2 \gset
SELECT set_config('role', :'validator', true) AS _role \gset
-- Shadows of pg_catalog functions the rules use.
CREATE FUNCTION evil.btrim(text, text) RETURNS text LANGUAGE sql AS $$ SELECT 'HIJACKED' $$;
CREATE FUNCTION evil.btrim(text) RETURNS text LANGUAGE sql AS $$ SELECT 'HIJACKED' $$;
CREATE FUNCTION evil.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT 'hijacked' $$;
CREATE FUNCTION evil.jsonb_typeof(jsonb) RETURNS text LANGUAGE sql AS $$ SELECT 'object' $$;
CREATE FUNCTION evil.char_length(text) RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;
CREATE FUNCTION evil.regexp_replace(text, text, text, text) RETURNS text LANGUAGE sql AS $$ SELECT 'HIJACKED' $$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT '2000-01-01'::pg_catalog.timestamptz $$;
CREATE FUNCTION evil.current_setting(text, boolean) RETURNS text LANGUAGE sql AS $$ SELECT 'on' $$;
CREATE FUNCTION evil.set_config(text, text, boolean) RETURNS text LANGUAGE sql AS $$ SELECT 'off' $$;
-- Shadows of pgstaging's own names, for any unqualified call.
CREATE FUNCTION evil.trim_ws(text) RETURNS text LANGUAGE sql AS $$ SELECT 'HIJACKED' $$;
CREATE FUNCTION evil.field_error(text, text) RETURNS jsonb LANGUAGE sql AS $$ SELECT '[]'::jsonb $$;
CREATE FUNCTION evil.qualified_name(regclass) RETURNS text LANGUAGE sql AS $$ SELECT 'pg_temp.postings' $$;
CREATE FUNCTION evil.run_promotion(name, integer, text, boolean, bigint[], bigint) RETURNS jsonb LANGUAGE sql
    AS $$ SELECT '{"status": "HIJACKED"}'::jsonb $$;
-- Operators: every text equals every other, nothing differs, paths lie.
CREATE FUNCTION evil.yes(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE FUNCTION evil.no(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT false $$;
CREATE FUNCTION evil.yes_int(integer, integer) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE FUNCTION evil.path(jsonb, text[]) RETURNS text LANGUAGE sql AS $$ SELECT 'HIJACKED' $$;
CREATE FUNCTION evil.cat(jsonb, jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '[]'::jsonb $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.yes);
CREATE OPERATOR evil.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.no);
CREATE OPERATOR evil.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.yes_int);
CREATE OPERATOR evil.#>> (LEFTARG = jsonb, RIGHTARG = text[], FUNCTION = evil.path);
CREATE OPERATOR evil.|| (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = evil.cat);
SET LOCAL search_path = evil, pg_catalog, pg_temp, public;
SELECT btrim(' x ', ' ') AS c_probe_btrim, ('a'::text = 'b'::text) AS c_probe_eq, lower('X') AS c_probe_lower \gset
SELECT public.promote_postings_staging(:run1) AS c_postings,
       public.promote_skill_aliases_staging(:run1) AS c_aliases \gset
RESET search_path;
RESET ROLE;
SELECT state AS c_state FROM pg_temp.snapshot \gset
ROLLBACK TO SAVEPOINT scenario; -- noqa: PRS

SELECT is(ARRAY[:'c_probe_btrim', :'c_probe_eq', :'c_probe_lower'], ARRAY['HIJACKED', 't', 'hijacked'],
          'C (probe): in the caller''s session, btrim, = and lower are evil''s');
SELECT is(:'c_postings'::jsonb, :'clean_postings'::jsonb, 'C evil functions and operators: the postings summary is the clean one');
SELECT is(:'c_aliases'::jsonb, :'clean_aliases'::jsonb, 'C evil functions and operators: the skill_aliases summary is the clean one');
SELECT is(:'c_state'::jsonb, :'clean_state'::jsonb, 'C evil functions and operators: verdicts, rows and log are the clean ones');

-- ---------------------------------------------------------------------------
-- D. All of it at once: evil objects, temp tables, pg_temp first.
-- ---------------------------------------------------------------------------
SAVEPOINT scenario; -- noqa: PRS
SELECT setval(pg_get_serial_sequence('public.postings', 'posting_id'), :next_posting, false) AS _s1,
       setval(pg_get_serial_sequence('public.skill_aliases', 'skill_alias_id'), :next_alias, false) AS _s2 \gset
SELECT set_config('role', :'validator', true) AS _role \gset
CREATE FUNCTION evil.btrim(text, text) RETURNS text LANGUAGE sql AS $$ SELECT 'HIJACKED' $$;
CREATE FUNCTION evil.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT 'hijacked' $$;
CREATE FUNCTION evil.jsonb_typeof(jsonb) RETURNS text LANGUAGE sql AS $$ SELECT 'object' $$;
CREATE FUNCTION evil.yes(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.yes);
CREATE TEMP TABLE postings (posting_id bigint, external_job_id text, job_title text, created_by_staging_id bigint,
                            updated_by_staging_id bigint);
INSERT INTO postings VALUES (-1, 'H-1', 'bait', -1, NULL);
CREATE TEMP TABLE workflow_runs (workflow_run_id integer, started_at timestamptz);
CREATE TEMP TABLE staged_tables (table_name name, staging_table regclass, insert_sql text, verdict_sql text);
INSERT INTO staged_tables VALUES ('postings', 'pg_temp.postings', 'SELECT 1', 'SELECT 1');
SET LOCAL search_path = pg_temp, evil, pg_catalog, public;
SELECT (SELECT count(*) FROM postings) AS d_probe_postings, btrim(' x ', ' ') AS d_probe_btrim \gset
SELECT public.promote_postings_staging(:run1) AS d_postings,
       public.promote_skill_aliases_staging(:run1) AS d_aliases \gset
RESET search_path;
RESET ROLE;
SELECT state AS d_state FROM pg_temp.snapshot \gset
ROLLBACK TO SAVEPOINT scenario; -- noqa: PRS

SELECT is(ARRAY[:'d_probe_postings', :'d_probe_btrim'], ARRAY['1', 'HIJACKED'],
          'D (probe): the caller sees its temp postings and evil''s btrim');
SELECT is(:'d_postings'::jsonb, :'clean_postings'::jsonb, 'D everything at once: the postings summary is the clean one');
SELECT is(:'d_aliases'::jsonb, :'clean_aliases'::jsonb, 'D everything at once: the skill_aliases summary is the clean one');
SELECT is(:'d_state'::jsonb, :'clean_state'::jsonb, 'D everything at once: verdicts, rows and log are the clean ones');

-- ---------------------------------------------------------------------------
-- E. SET search_path = evil, pg_temp, public (pg_catalog implicitly first:
--    evil can only add names pg_catalog lacks, such as pgstaging's own).
-- ---------------------------------------------------------------------------
SAVEPOINT scenario; -- noqa: PRS
SELECT setval(pg_get_serial_sequence('public.postings', 'posting_id'), :next_posting, false) AS _s1,
       setval(pg_get_serial_sequence('public.skill_aliases', 'skill_alias_id'), :next_alias, false) AS _s2 \gset
SELECT set_config('role', :'validator', true) AS _role \gset
CREATE FUNCTION evil.trim_ws(text) RETURNS text LANGUAGE sql AS $$ SELECT 'HIJACKED' $$;
CREATE FUNCTION evil.field_error(text, text) RETURNS jsonb LANGUAGE sql AS $$ SELECT '[]'::jsonb $$;
CREATE FUNCTION evil.text_value(jsonb) RETURNS text LANGUAGE sql AS $$ SELECT 'HIJACKED' $$;
CREATE FUNCTION evil.key_value(jsonb) RETURNS text LANGUAGE sql AS $$ SELECT 'HIJACKED' $$;
CREATE FUNCTION evil.run_promotion(name, integer, text, boolean, bigint[], bigint) RETURNS jsonb LANGUAGE sql
    AS $$ SELECT '{"status": "HIJACKED"}'::jsonb $$;
CREATE TEMP TABLE skill_aliases (skill_alias_id bigint, alias text, canonical text, created_by_staging_id bigint);
INSERT INTO skill_aliases VALUES (-1, 'js', 'bait', -1);
SET LOCAL search_path = evil, pg_temp, public;
SELECT trim_ws(' x ') AS e_probe_trim, (SELECT count(*) FROM skill_aliases) AS e_probe_aliases \gset
SELECT public.promote_postings_staging(:run1) AS e_postings,
       public.promote_skill_aliases_staging(:run1) AS e_aliases \gset
RESET search_path;
RESET ROLE;
SELECT state AS e_state FROM pg_temp.snapshot \gset
ROLLBACK TO SAVEPOINT scenario; -- noqa: PRS

SELECT is(ARRAY[:'e_probe_trim', :'e_probe_aliases'], ARRAY['HIJACKED', '1'],
          'E (probe): the caller''s trim_ws is evil''s, its skill_aliases its temp table');
SELECT is(:'e_postings'::jsonb, :'clean_postings'::jsonb, 'E hostile search_path: the postings summary is the clean one');
SELECT is(:'e_aliases'::jsonb, :'clean_aliases'::jsonb, 'E hostile search_path: the skill_aliases summary is the clean one');
SELECT is(:'e_state'::jsonb, :'clean_state'::jsonb, 'E hostile search_path: verdicts, rows and log are the clean ones');

-- ---------------------------------------------------------------------------
-- F. Custom and planner settings.
-- ---------------------------------------------------------------------------
SAVEPOINT scenario; -- noqa: PRS
SELECT setval(pg_get_serial_sequence('public.postings', 'posting_id'), :next_posting, false) AS _s1,
       setval(pg_get_serial_sequence('public.skill_aliases', 'skill_alias_id'), :next_alias, false) AS _s2 \gset
SELECT set_config('role', :'validator', true) AS _role \gset
SET LOCAL pgstaging.writer = 'on'; -- noqa: PRS
SET LOCAL transform_null_equals = on;
SET LOCAL standard_conforming_strings = off;
SET LOCAL "TimeZone" = 'Pacific/Chatham';
SET LOCAL "DateStyle" = 'SQL, DMY';
SET LOCAL "IntervalStyle" = 'sql_standard';
SET LOCAL extra_float_digits = -15;
SET LOCAL enable_hashagg = off;
SET LOCAL enable_hashjoin = off;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_indexscan = off;
SET LOCAL work_mem = '64kB';
SELECT public.promote_postings_staging(:run1) AS f_postings,
       public.promote_skill_aliases_staging(:run1) AS f_aliases \gset
RESET ROLE;
RESET ALL;
SELECT state AS f_state FROM pg_temp.snapshot \gset
ROLLBACK TO SAVEPOINT scenario; -- noqa: PRS

SELECT is(:'f_postings'::jsonb, :'clean_postings'::jsonb, 'F settings: the postings summary is the clean one');
SELECT is(:'f_aliases'::jsonb, :'clean_aliases'::jsonb, 'F settings: the skill_aliases summary is the clean one');
SELECT is(:'f_state'::jsonb, :'clean_state'::jsonb, 'F settings: verdicts, rows and log are the clean ones');

-- ---------------------------------------------------------------------------
-- G. Through the generic entry point, under evil's path.
-- ---------------------------------------------------------------------------
SAVEPOINT scenario; -- noqa: PRS
SELECT setval(pg_get_serial_sequence('public.postings', 'posting_id'), :next_posting, false) AS _s1,
       setval(pg_get_serial_sequence('public.skill_aliases', 'skill_alias_id'), :next_alias, false) AS _s2 \gset
SELECT set_config('role', :'validator', true) AS _role \gset
CREATE FUNCTION evil.staged_function(text, text) RETURNS text LANGUAGE sql AS $$ SELECT 'evil.run_promotion' $$;
CREATE FUNCTION evil.staged_table(text) RETURNS pgstaging.staged_tables LANGUAGE sql
    AS $$ SELECT NULL::pgstaging.staged_tables $$;
CREATE FUNCTION evil.yes(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.yes);
SET LOCAL search_path = evil, pg_catalog, pg_temp, public;
SELECT pgstaging.promote('postings', :run1) AS g_postings,
       pgstaging.promote('skill_aliases', :run1) AS g_aliases \gset
RESET search_path;
RESET ROLE;
SELECT state AS g_state FROM pg_temp.snapshot \gset
ROLLBACK TO SAVEPOINT scenario; -- noqa: PRS

SELECT is(:'g_postings'::jsonb, :'clean_postings'::jsonb, 'G pgstaging.promote under evil''s path: the postings summary is the clean one');
SELECT is(:'g_aliases'::jsonb, :'clean_aliases'::jsonb, 'G pgstaging.promote under evil''s path: the skill_aliases summary is the clean one');
SELECT is(:'g_state'::jsonb, :'clean_state'::jsonb, 'G pgstaging.promote under evil''s path: verdicts, rows and log are the clean ones');

-- ---------------------------------------------------------------------------
-- H. A script that sets the writer flag and plants, on its path before
--    pg_catalog, a current_setting that always says "on" and an oid "="
--    under which every role is the same role, writes nothing: not with its
--    own grants, and not with far too many. (An unpinned guard trigger would
--    plan its owner check with that "=" and let the script through.)
-- ---------------------------------------------------------------------------
-- SQLSTATE and message of what a statement raises, run under the caller's
-- path (no SET clause); its own operator is qualified.
CREATE FUNCTION pg_temp.raised(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE p_sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE OPERATOR(pg_catalog.||) ': ' OPERATOR(pg_catalog.||) SQLERRM;
END
$$;

SAVEPOINT scenario; -- noqa: PRS
SELECT set_config('role', :'validator', true) AS _role \gset
CREATE FUNCTION evil.current_setting(text, boolean) RETURNS text LANGUAGE sql AS $$ SELECT 'on' $$;
-- Equal when equal, and any two oids that are not relations are equal.
CREATE FUNCTION evil.eq_oid(a oid, b oid) RETURNS boolean LANGUAGE sql AS $$
    SELECT a OPERATOR(pg_catalog.=) b
        OR (a OPERATOR(pg_catalog.<>) 0 AND b OPERATOR(pg_catalog.<>) 0
            AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c
                            WHERE c.oid OPERATOR(pg_catalog.=) a OR c.oid OPERATOR(pg_catalog.=) b))
$$;
CREATE OPERATOR evil.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = evil.eq_oid);
RESET ROLE;

SELECT set_config('role', :'script', true) AS _role \gset
SET LOCAL pgstaging.writer = 'on'; -- noqa: PRS
SET LOCAL search_path = evil, pg_catalog, pg_temp, public;
SELECT current_setting('pgstaging.nothing', true) AS h_probe_setting \gset
SELECT (SELECT count(*) FROM pg_catalog.pg_roles AS r WHERE r.oid = 10::oid) > 1 AS h_probe_eq \gset
SELECT pg_temp.raised($$INSERT INTO public.postings (external_job_id, source_website, job_title, company_name)
                        VALUES ('FORGED', 'x', 'x', 'x')$$) AS h_insert \gset
SELECT pg_temp.raised(format('SELECT public.promote_postings_staging(%s)', :run1)) AS h_promote \gset
RESET search_path;
RESET ROLE;

SELECT format('GRANT ALL ON TABLE postings, postings_staging TO %I', :'script') \gexec
SELECT set_config('role', :'script', true) AS _role \gset
SET LOCAL search_path = evil, pg_catalog, pg_temp, public;
SELECT pg_temp.raised($$INSERT INTO public.postings (external_job_id, source_website, job_title, company_name)
                        VALUES ('FORGED', 'x', 'x', 'x')$$) AS h_all_insert \gset
SELECT pg_temp.raised($$UPDATE public.postings SET job_title = 'hacked'$$) AS h_all_update \gset
SELECT pg_temp.raised($$UPDATE public.postings_staging SET validated = true, outcome = 'failed', validation_errors = '[]'$$)
    AS h_all_verdict \gset
SELECT pg_temp.raised($$DELETE FROM public.postings_staging$$) AS h_all_delete \gset
RESET search_path;
RESET ROLE;
ROLLBACK TO SAVEPOINT scenario; -- noqa: PRS

SELECT is(ARRAY[:'h_probe_setting', :'h_probe_eq'], ARRAY['on', 't'],
          'H (probe): in the script''s session, current_setting says "on" and all roles are "=" to one another');
SELECT matches(:'h_insert'::text, '^42501: permission denied',
               'H script, flag on, evil path: INSERT into postings is refused (no privilege)');
SELECT matches(:'h_promote'::text, '^42501: permission denied',
               'H script, flag on, evil path: promote_postings_staging is refused');
SELECT is(:'h_all_insert'::text, '42501: pgstaging: INSERT on public.postings is refused',
          'H script with GRANT ALL, flag on, evil path: the guard refuses INSERT into postings');
SELECT is(:'h_all_update'::text, '42501: pgstaging: UPDATE on public.postings is refused',
          'H script with GRANT ALL, flag on, evil path: the guard refuses UPDATE of postings');
SELECT is(:'h_all_verdict'::text, '42501: pgstaging: UPDATE on public.postings_staging is refused',
          'H script with GRANT ALL, flag on, evil path: the guard refuses writing verdicts');
SELECT is(:'h_all_delete'::text, '42501: pgstaging: DELETE on public.postings_staging is refused',
          'H script with GRANT ALL, flag on, evil path: the guard refuses DELETE of staged rows');

SELECT * FROM finish();
ROLLBACK;
