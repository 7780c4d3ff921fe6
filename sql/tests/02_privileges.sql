-- Privileges: the exact allow-list of every pgstaging role and of PUBLIC on
-- every pgstaging relation and function, then every refusal acted out
-- under SET LOCAL ROLE.
--
-- has_*_privilege (which pgTAP uses) reports effective privileges: what a
-- role holds directly, through PUBLIC and through the roles it inherits.
-- So the validator role shows the reader role's SELECTs, and every role shows
-- what PUBLIC holds.
--
-- The plan counts one column_privs_are per column and role: the expected
-- privileges are a rule per kind of relation, so a new column is checked
-- without editing this file; a new relation or function fails the
-- catalogue checks until it is listed here.
BEGIN;
-- plan() comes after the allow-list: it counts the tests from it.

-- This install's group role names.
SELECT pgstaging.group_role('script') AS script, pgstaging.group_role('validator') AS validator,
       pgstaging.group_role('reader') AS reader, pgstaging.group_role('steward') AS steward \gset

-- ---------------------------------------------------------------------------
-- The allow-list.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE roles (rolname name PRIMARY KEY);
INSERT INTO roles VALUES (:'script'), (:'validator'), (:'reader'), ('public');

CREATE TEMP TABLE staged (name text PRIMARY KEY);
INSERT INTO staged VALUES ('postings'), ('profile_skills'), ('job_skills'), ('skill_aliases');

-- Every relation, by kind: the kind decides the column privileges below.
CREATE TEMP TABLE expected_relations (rel text PRIMARY KEY, kind text NOT NULL);
INSERT INTO expected_relations
SELECT 'public.' || name AS rel, 'production' AS kind FROM staged
UNION ALL
SELECT 'public.' || name || '_staging' AS rel, 'staging' AS kind FROM staged
UNION ALL
SELECT 'pgstaging.' || name || '_staging_judged' AS rel, 'view' AS kind FROM staged
UNION ALL
SELECT 'pgstaging.' || name || '_health' AS rel, 'view' AS kind FROM staged
UNION ALL
VALUES
    ('public.workflow_runs', 'internal'),
    ('public.actors', 'actors'),
    ('pgstaging.staged_tables', 'registry'),
    ('pgstaging.installs', 'internal'),
    ('pgstaging.rule_versions', 'internal'),
    ('pgstaging.spec_format', 'internal'),
    ('pgstaging.promotion_log', 'internal'),
    ('pgstaging.update_preimages', 'internal'),
    ('pgstaging.run_locks', 'internal'),
    ('pgstaging.superseded_verdicts', 'internal'),
    ('pgstaging.actor_logins', 'actor_logins'),
    ('pgstaging.actor_rights', 'actor_rights'),
    ('pgstaging.group_roles', 'group_roles'),
    ('pgstaging.data_migrations', 'internal'),
    ('pgstaging.runs', 'internal'),
    ('pgstaging.alerts', 'internal'),
    ('pgstaging.engine_tables', 'internal'),
    ('pgstaging.metric_totals', 'internal'),
    ('pgstaging.metric_deltas', 'internal'),
    ('pgstaging.metric_fold_lock', 'internal'),
    ('pgstaging.guard_modes', 'internal'),
    ('pgstaging.direct_writes', 'internal'),
    ('pgstaging.direct_write_rows', 'internal'),
    ('pgstaging.guard_passes', 'internal');

-- Readers (and validators, through membership) read every column of every
-- relation; scripts insert the four raw columns and operation of staging
-- tables, read back staging_id, resolve actors, read the registry, the
-- group role names and the actor bindings and rights the staging rights
-- guard reads as them; PUBLIC nothing.
CREATE TEMP VIEW expected_column_privs AS
SELECT e.rel, e.kind, a.attname AS col, r.rolname,
       CASE
           WHEN r.rolname IN (:'reader', :'validator') THEN '{SELECT}'
           WHEN r.rolname = 'public' THEN '{}'
           WHEN e.kind = 'staging' AND a.attname IN ('workflow_run_id', 'actor_id', 'interaction_id', 'raw_data', 'operation') THEN '{INSERT}'
           WHEN e.kind = 'staging' AND a.attname = 'staging_id' THEN '{SELECT}'
           WHEN e.kind = 'actors' AND a.attname IN ('actor_id', 'actor_name') THEN '{SELECT}'
           WHEN e.kind = 'registry' THEN '{SELECT}'
           WHEN e.kind = 'group_roles' THEN '{SELECT}'
           WHEN e.kind = 'actor_logins' AND a.attname IN ('actor_id', 'login') THEN '{SELECT}'
           WHEN e.kind = 'actor_rights' AND a.attname IN ('actor_id', 'table_name', 'right_name') THEN '{SELECT}'
           ELSE '{}'
       END::name[] AS privs
FROM expected_relations AS e
INNER JOIN pg_catalog.pg_attribute AS a ON a.attrelid = to_regclass(e.rel) AND a.attnum > 0 AND NOT a.attisdropped
CROSS JOIN roles AS r;

-- Every function, by access:
--   public     SECURITY INVOKER, PUBLIC keeps EXECUTE: pure helpers, and
--              entry points whose caller's own grants decide
--   owner      nobody but the owner (installer, engine, triggers)
--   validator  the validator group role only
--   steward    the steward group role only (none of the three below)
--   roles      the three pgstaging roles, not PUBLIC
--   starter    staging_script and staging_validator (runs: the function
--              itself decides which of their logins may)
CREATE TEMP TABLE expected_functions (sig text PRIMARY KEY, access text NOT NULL);
INSERT INTO expected_functions VALUES
    ('pgstaging.trim_ws(text)', 'public'),
    ('pgstaging.field_error(text,text)', 'public'),
    ('pgstaging.is_iso_date(text)', 'public'),
    ('pgstaging.is_iso_timestamp(text)', 'public'),
    ('pgstaging.spec_sql_type(text)', 'public'),
    -- the spec check and JSON Schema compiler (25_spec_check.sql, 27_json_schema.sql)
    ('pgstaging.edit_distance(text,text)', 'public'),
    ('pgstaging.nearest_name(text,text[])', 'public'),
    ('pgstaging.spec_type_matches(jsonb,text)', 'public'),
    ('pgstaging.spec_check(jsonb,jsonb,text,jsonb)', 'public'),
    ('pgstaging.is_rfc3339_timestamp(text)', 'public'),
    ('pgstaging.json_fits_type(jsonb,text)', 'public'),
    ('pgstaging.json_native_scalar(jsonb,text)', 'public'),
    ('pgstaging.json_schema_fields(jsonb,text)', 'public'),
    ('pgstaging.normalize_spec(jsonb)', 'public'),
    ('pgstaging.spec_field_keys(jsonb)', 'public'),
    ('pgstaging.spec_key_sql(jsonb)', 'public'),
    ('pgstaging.spec_normalize_sql(jsonb,text)', 'public'),
    ('pgstaging.spec_candidate_sql(jsonb,text,text)', 'public'),
    ('pgstaging.spec_error_sql(jsonb,text,text,text)', 'public'),
    ('pgstaging.staged_table(text)', 'public'),
    ('pgstaging.staged_function(text,text)', 'public'),
    ('pgstaging.promote(text,integer,boolean,bigint,boolean)', 'public'),
    ('pgstaging.retry(text,integer,bigint,boolean)', 'public'),
    ('pgstaging.unpromote(text,integer,text,boolean,bigint)', 'public'),
    ('pgstaging.call_staged(text,text,jsonb)', 'public'),
    ('pgstaging.statement_parameters()', 'public'),
    ('pgstaging.pinned_settings_sql()', 'public'),
    ('pgstaging.verdict_check_sql()', 'public'),
    ('pgstaging.has_column(regclass,name)', 'public'),
    ('pgstaging.has_constraint(regclass,name)', 'public'),
    ('pgstaging.run_status(integer)', 'public'),
    ('pgstaging.run_failures(text,integer)', 'public'),
    ('pgstaging.health(text)', 'public'),
    ('pgstaging.metrics()', 'public'),
    ('pgstaging.ensure_health_indexes(regclass)', 'owner'),
    ('pgstaging.metric_buckets()', 'owner'),
    ('pgstaging.call_error_counts(pgstaging.staged_tables,integer,jsonb,bigint[])', 'owner'),
    ('pgstaging.count_call(jsonb,bigint[])', 'owner'),
    ('pgstaging.add_call_deltas(pgstaging.promotion_log,pgstaging.staged_tables,jsonb,jsonb)', 'owner'),
    ('pgstaging.fold_metrics()', 'owner'),
    ('pgstaging.count_alert()', 'owner'),
    ('pgstaging.qualified_name(regclass)', 'owner'),
    ('pgstaging.grant_select_all_columns(regclass,name)', 'owner'),
    ('pgstaging.guard_pgstaging_writes()', 'owner'),
    ('pgstaging.guard_staging_removal()', 'owner'),
    ('pgstaging.refuse_forged_staging_row()', 'owner'),
    ('pgstaging.refuse_foreign_restage()', 'owner'),
    ('pgstaging.capture_preimage()', 'owner'),
    ('pgstaging.raise_alert(jsonb)', 'owner'),
    ('pgstaging.lock_run(name,integer)', 'owner'),
    ('pgstaging.refuse_staging_rewrite()', 'owner'),
    ('pgstaging.run_promotion(name,integer,text,boolean,bigint[],bigint,boolean)', 'owner'),
    ('pgstaging.with_patch_counts(pgstaging.staged_tables,jsonb)', 'owner'),
    ('pgstaging.judge_gate(pgstaging.staged_tables,integer)', 'owner'),
    ('pgstaging.gated_promotion(pgstaging.staged_tables,integer,text,bigint[],integer,boolean)', 'owner'),
    ('pgstaging.log_promotion(pgstaging.staged_tables,integer,text,jsonb,timestamptz,bigint[],bigint)', 'owner'),
    ('pgstaging.apply_promotion(pgstaging.staged_tables,integer,text,bigint[],integer)', 'owner'),
    ('pgstaging.merge_summaries(jsonb,jsonb,integer)', 'owner'),
    ('pgstaging.remove_promoted_rows(name,bigint[],text,boolean)', 'owner'),
    ('pgstaging.run_unpromotion(name,integer,text,boolean,bigint)', 'owner'),
    ('pgstaging.replace_function_keeping_grants(text,text)', 'owner'),
    ('pgstaging.check_run_starter(text)', 'owner'),
    ('pgstaging.workflow_runs_table()', 'owner'),
    ('pgstaging.mark_run_failed(integer,jsonb)', 'owner'),
    ('pgstaging.start_run(integer)', 'starter'),
    ('pgstaging.start_run(integer,integer)', 'starter'),
    ('pgstaging.end_run(integer,text)', 'starter'),
    ('pgstaging.restage(text,bigint,jsonb)', 'steward'),
    ('pgstaging.group_role(text)', 'public'),
    ('pgstaging.derive_group_role(text,text)', 'owner'),
    ('pgstaging.may_administer_role(name)', 'owner'),
    ('pgstaging.grant_membership(name,name,boolean)', 'owner'),
    ('pgstaging.spec_fields(text)', 'owner'),
    ('pgstaging.check_actor_right(text,text,text,text[])', 'owner'),
    ('pgstaging.add_actor(text,name)', 'owner'),
    ('pgstaging.allow_actor(text,text,text,text[])', 'owner'),
    ('pgstaging.disallow_actor(text,text,text,text[])', 'owner'),
    ('pgstaging.apply_actor_reads(text)', 'owner'),
    ('pgstaging.apply_actor_rights(text)', 'owner'),
    ('pgstaging.login_may_start_runs(name)', 'owner'),
    ('pgstaging.actor_list()', 'owner'),
    ('pgstaging.fill_staging_actor()', 'owner'),
    ('pgstaging.refuse_staging_without_right()', 'owner'),
    ('pgstaging.attach_staging_rights(regclass)', 'owner'),
    ('pgstaging.grant_staged_table(name)', 'owner'),
    ('pgstaging.create_health_view(name)', 'owner'),
    ('pgstaging.register_staged_table(jsonb)', 'owner'),
    ('pgstaging.register_packaged_spec(jsonb)', 'owner'),
    ('pgstaging.regenerate_staged_tables()', 'owner'),
    ('pgstaging.checked_spec(jsonb)', 'owner'),
    ('pgstaging.check_statement(text)', 'owner'),
    ('pgstaging.compile_spec(jsonb)', 'owner'),
    ('pgstaging.try_spec(jsonb,integer[])', 'owner'),
    ('pgstaging.spec_fields(jsonb)', 'owner'),
    ('pgstaging.spec_derived_names(jsonb)', 'owner'),
    ('pgstaging.check_spec_names(jsonb)', 'owner'),
    ('pgstaging.spec_statements(jsonb,name)', 'owner'),
    ('pgstaging.build_filter_sql(text)', 'owner'),
    ('pgstaging.build_judge_sql(name,text,jsonb,jsonb,text,boolean)', 'owner'),
    ('pgstaging.build_summary_sql(name,boolean)', 'owner'),
    ('pgstaging.build_mark_sql(text,text,text)', 'owner'),
    ('pgstaging.build_insert_sql(text,text,name,text,text[],text[],text[],text)', 'owner'),
    ('pgstaging.build_verdict_sql(text,text,name,text,text[],text)', 'owner'),
    ('pgstaging.build_patch_lock_sql(text,text[],text[],text)', 'owner'),
    ('pgstaging.build_patch_sql(text,text,name,jsonb,jsonb,text[],text)', 'owner'),
    ('pgstaging.run_ddl(text,text)', 'owner'),
    ('pgstaging.ensure_index(name,name,text)', 'owner'),
    ('pgstaging.ensure_production_table(name,jsonb,jsonb)', 'owner'),
    ('pgstaging.ensure_staging_table(name,name)', 'owner'),
    ('pgstaging.ensure_staging_guards(regclass)', 'owner'),
    ('pgstaging.ensure_production_keys(regclass,regclass,jsonb,jsonb,text)', 'owner'),
    ('pgstaging.create_judged_view(name,text)', 'owner'),
    ('pgstaging.create_entry_points(name,name)', 'owner'),
    ('pgstaging.unstaged_row_count(name)', 'public'),
    ('pgstaging.observe_direct_writes()', 'owner'),
    ('pgstaging.apply_guard_mode(name,regclass,text)', 'owner'),
    ('pgstaging.set_guard(text,text,boolean)', 'owner'),
    ('pgstaging.check_unpromote_direct_writes(name,integer)', 'owner'),
    ('pgstaging.check_unpromote_rows(name,bigint[])', 'owner'),
    ('pgstaging.check_adoption(jsonb)', 'owner'),
    ('pgstaging.is_adopted(name)', 'owner'),
    ('pgstaging.promote_batch(text,integer)', 'validator'),
    ('pgstaging.run_exists(integer)', 'roles');
INSERT INTO expected_functions
SELECT format(s.f, staged.name) AS sig, 'validator' AS access
FROM staged
CROSS JOIN (VALUES ('public.promote_%s_staging(integer,boolean,bigint,boolean)'),
                   ('public.retry_%s_staging(integer,bigint,boolean)'),
                   ('public.unpromote_%s_staging(integer,text,boolean,bigint)')) AS s (f);

CREATE TEMP VIEW expected_function_privs AS
SELECT e.sig, e.access, p.oid, p.pronamespace::regnamespace::name AS sch, p.proname,
       ARRAY(SELECT pg_catalog.format_type(t.oid, NULL) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS t (oid, n)
             ORDER BY t.n)::name[] AS args,
       r.rolname,
       CASE
           WHEN e.access = 'public' THEN '{EXECUTE}'
           WHEN e.access = 'validator' AND r.rolname = :'validator' THEN '{EXECUTE}'
           WHEN e.access = 'roles' AND r.rolname <> 'public' THEN '{EXECUTE}'
           WHEN e.access = 'starter' AND r.rolname IN (:'script', :'validator') THEN '{EXECUTE}'
           ELSE '{}'
       END::name[] AS privs
FROM expected_functions AS e
INNER JOIN pg_catalog.pg_proc AS p ON p.oid = to_regprocedure(e.sig)
CROSS JOIN roles AS r;

-- Fixed checks, plus what the allow-list implies: per relation, four roles'
-- table privileges, a reader's read, a reader's four refused writes (not
-- for views) and PUBLIC's refused read; per function, four roles'
-- privileges, PUBLIC's refused call (and again with schema USAGE unless
-- PUBLIC may call it), a reader's refused call of validator and owner
-- functions; per column, one check per role.
SELECT plan(
    195
    + (SELECT count(*)::integer * 6 + 4 * count(*) FILTER (WHERE kind <> 'view')::integer FROM expected_relations)
    + (SELECT count(*)::integer * 5 + count(*) FILTER (WHERE access <> 'public')::integer
              + count(*) FILTER (WHERE access IN ('validator', 'steward', 'owner', 'starter'))::integer
       FROM expected_functions)
    + (SELECT count(*)::integer FROM expected_column_privs)
);

-- pgstaging's own objects: in public or pgstaging, and no extension's (pgTAP
-- and plpgsql_check live in public too).
CREATE TEMP VIEW own_functions AS
SELECT p.oid, p.prosecdef
FROM pg_catalog.pg_proc AS p
WHERE p.pronamespace IN ('public'::regnamespace, 'pgstaging'::regnamespace)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                  WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e');
CREATE TEMP VIEW own_relations AS
SELECT c.oid, c.relkind
FROM pg_catalog.pg_class AS c
WHERE c.relnamespace IN ('public'::regnamespace, 'pgstaging'::regnamespace)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e');

-- ---------------------------------------------------------------------------
-- Catalogue checks: nothing unlisted, nothing missing.
-- ---------------------------------------------------------------------------
SELECT set_eq(
    $$SELECT table_name::text FROM pgstaging.staged_tables$$,
    $$SELECT name FROM staged$$,
    'the staged tables are postings, profile_skills, job_skills, skill_aliases'
);
SELECT set_eq(
    $$SELECT oid::regclass::text FROM own_relations WHERE relkind IN ('r', 'v', 'm', 'p', 'f')$$,
    $$SELECT coalesce(to_regclass(rel)::text, 'missing: ' || rel) FROM expected_relations$$,
    'every pgstaging table and view is in the allow-list below, and exists'
);
SELECT set_eq(
    $$SELECT oid::regprocedure::text FROM own_functions$$,
    $$SELECT coalesce(to_regprocedure(sig)::text, 'missing: ' || sig) FROM expected_functions$$,
    'every pgstaging function is in the allow-list below, and exists'
);
SELECT set_eq(
    $$SELECT oid::regprocedure::text FROM own_functions WHERE prosecdef$$,
    $$SELECT to_regprocedure(sig)::text FROM expected_functions
      WHERE access IN ('validator', 'steward', 'roles', 'starter') OR sig = 'pgstaging.observe_direct_writes()'$$,
    'exactly the entry points, promote_batch, restage, run_exists, the run functions and the observing trigger are SECURITY DEFINER'
);
SELECT is_empty(
    $$SELECT oid::regprocedure FROM own_functions
      WHERE prosecdef AND pg_catalog.has_function_privilege('public', oid, 'EXECUTE')$$,
    'PUBLIC has no EXECUTE on any SECURITY DEFINER function'
);
SELECT results_eq(
    format($$SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolinherit
             FROM pg_catalog.pg_roles
             WHERE rolname IN (%L, %L, %L, %L)
             ORDER BY rolname$$, :'script', :'validator', :'reader', :'steward'),
    format($$SELECT * FROM (VALUES (%L::name, false, false, false, false, false, true),
                                   (%L::name, false, false, false, false, false, true),
                                   (%L::name, false, false, false, false, false, true),
                                   (%L::name, false, false, false, false, false, true)) AS v ORDER BY 1$$,
           :'script', :'validator', :'reader', :'steward'),
    'the four group roles are NOLOGIN with no special attributes'
);
SELECT results_eq(
    format($$SELECT m.member::regrole::text, m.roleid::regrole::text
             FROM pg_catalog.pg_auth_members AS m
             WHERE m.member IN (%L::regrole, %L::regrole, %L::regrole, %L::regrole)
             ORDER BY 1, 2$$, :'script', :'validator', :'reader', :'steward'),
    format($$SELECT * FROM (VALUES (%L::regrole::text, %L::regrole::text), (%L::regrole::text, %L::regrole::text)) AS v
             ORDER BY 1, 2$$, :'steward', :'validator', :'validator', :'reader'),
    'validator is a member of reader, steward of validator, and those are the only memberships'
);
SELECT is(pgstaging.group_role(k), r.role_name, 'group_role(' || k || ') is this install''s name')
FROM (VALUES ('script'), ('validator'), ('reader'), ('steward')) AS v (k)
INNER JOIN pgstaging.group_roles AS r ON v.k = r.role_kind
ORDER BY k;
SELECT throws_ok($$SELECT pgstaging.group_role('janitor')$$, '22023', NULL, 'group_role of an unknown kind is refused');
SELECT is(pg_catalog.has_function_privilege(:'steward', 'pgstaging.restage(text,bigint,jsonb)', 'EXECUTE'), true,
          'steward: may call pgstaging.restage');
SELECT is(pg_catalog.has_function_privilege(:'steward', 'public.promote_postings_staging(integer,boolean,bigint,boolean)', 'EXECUTE'), true,
          'steward: may promote, as a validator');
SELECT is_empty(
    $$SELECT c.oid::regclass, r.rolname
      FROM own_relations AS c CROSS JOIN roles AS r
      WHERE c.relkind = 'S'
        AND (pg_catalog.has_sequence_privilege(r.rolname, c.oid, 'USAGE')
             OR pg_catalog.has_sequence_privilege(r.rolname, c.oid, 'SELECT')
             OR pg_catalog.has_sequence_privilege(r.rolname, c.oid, 'UPDATE'))$$,
    'no role and not PUBLIC holds any privilege on a sequence'
);

-- Schemas: USAGE, never CREATE (a writable schema would be a place to plant
-- objects for someone else's search_path).
SELECT schema_privs_are(s.nspname, r.rolname,
                        CASE WHEN r.rolname = 'public' AND s.nspname = 'pgstaging' THEN '{}' ELSE '{USAGE}' END::name[],
                        pg_catalog.format('%s: %s on schema %s', r.rolname,
                            CASE WHEN r.rolname = 'public' AND s.nspname = 'pgstaging' THEN 'nothing' ELSE 'USAGE only' END,
                            s.nspname))
FROM (VALUES ('public'::name), ('pgstaging')) AS s (nspname)
CROSS JOIN roles AS r
ORDER BY s.nspname, r.rolname;

-- Relations: no table-level privilege for anyone; column grants only.
SELECT table_privs_are(split_part(e.rel, '.', 1), split_part(e.rel, '.', 2), r.rolname, ARRAY[]::name[],
                       pg_catalog.format('%s: no table-level privilege on %s', r.rolname, e.rel))
FROM expected_relations AS e CROSS JOIN roles AS r
ORDER BY e.rel, r.rolname;

-- Columns: exactly the privileges of the rule above.
SELECT column_privs_are(split_part(rel, '.', 1), split_part(rel, '.', 2), col, rolname, privs,
                        pg_catalog.format('%s: exactly %s on %s.%s', rolname, privs, rel, col))
FROM expected_column_privs
ORDER BY rel, col, rolname;

-- Functions.
SELECT function_privs_are(sch, proname, args, rolname, privs,
                          pg_catalog.format('%s: %s on %s', rolname,
                                            CASE WHEN privs = '{}' THEN 'no EXECUTE' ELSE 'EXECUTE' END, sig))
FROM expected_function_privs
ORDER BY sig, rolname;

-- ---------------------------------------------------------------------------
-- Refusals, acted out. Fixtures first, as the superuser.
-- ---------------------------------------------------------------------------
INSERT INTO workflow_runs DEFAULT VALUES RETURNING workflow_run_id AS run \gset
INSERT INTO postings_staging (workflow_run_id, raw_data)
VALUES (:run, '{"job_id": "PRIV-1", "title": "privileges"}');

-- Per staged table, what a script may not do.
CREATE TEMP TABLE script_refusals AS
SELECT s.name, x.n, format(x.stmt, s.name, :run) AS stmt, format(x.why, s.name) AS why
FROM staged AS s
CROSS JOIN (VALUES
    (1, 'SELECT raw_data FROM %1$I_staging', 'script: SELECT raw_data of %s_staging is refused'),
    (2, 'SELECT * FROM %1$I_staging', 'script: SELECT * of %s_staging is refused'),
    (3, 'SELECT outcome FROM %1$I_staging', 'script: SELECT of a verdict of %s_staging is refused'),
    (4, $$INSERT INTO %1$I_staging (workflow_run_id, raw_data) VALUES (%2$s, '{}') RETURNING *$$,
        'script: INSERT ... RETURNING * into %s_staging is refused'),
    (5, $$UPDATE %1$I_staging SET raw_data = '{}'$$, 'script: UPDATE raw_data of %s_staging is refused'),
    (6, 'UPDATE %1$I_staging SET validated = true', 'script: UPDATE of a verdict of %s_staging is refused'),
    (7, 'DELETE FROM %1$I_staging', 'script: DELETE from %s_staging is refused'),
    (8, 'TRUNCATE %1$I_staging', 'script: TRUNCATE of %s_staging is refused'),
    (9, 'INSERT INTO %1$I DEFAULT VALUES', 'script: INSERT into %s is refused'),
    (10, 'UPDATE %1$I SET created_at = created_at', 'script: UPDATE of %s is refused'),
    (11, 'DELETE FROM %1$I', 'script: DELETE from %s is refused'),
    (12, 'TRUNCATE %1$I', 'script: TRUNCATE of %s is refused'),
    (13, 'SELECT created_by_staging_id FROM %1$I', 'script: SELECT from %s is refused'),
    (14, 'SELECT promote_%1$s_staging(%2$s)', 'script: promote_%s_staging is refused'),
    (15, 'SELECT promote_%1$s_staging(%2$s, true)', 'script: promote_%s_staging dry run is refused'),
    (16, 'SELECT retry_%1$s_staging(%2$s)', 'script: retry_%s_staging is refused'),
    (17, 'SELECT unpromote_%1$s_staging(%2$s)', 'script: unpromote_%s_staging is refused'),
    (18, 'SELECT * FROM pgstaging.%1$I_staging_judged', 'script: the rules view of %s is refused'),
    (19, 'SELECT * FROM pgstaging.%1$I_health', 'script: the health view of %s is refused'),
    (20, $$SELECT pgstaging.promote(%1$L, %2$s)$$, 'script: pgstaging.promote(%s) is refused'),
    (21, $$SELECT pgstaging.promote_batch(%1$L)$$, 'script: pgstaging.promote_batch(%s) is refused'),
    (22, $$SELECT * FROM pgstaging.run_failures(%1$L, %2$s)$$, 'script: run_failures(%s) is refused'),
    (23, $$SELECT * FROM pgstaging.health(%1$L)$$, 'script: health(%s) is refused')
) AS x (n, stmt, why);

-- Per staged table, what a validator may not do.
CREATE TEMP TABLE validator_refusals AS
SELECT s.name, x.n, format(x.stmt, s.name, :run) AS stmt, format(x.why, s.name) AS why
FROM staged AS s
CROSS JOIN (VALUES
    (1, 'INSERT INTO %1$I DEFAULT VALUES', 'validator: INSERT into %s is refused'),
    (2, 'UPDATE %1$I SET created_at = created_at', 'validator: UPDATE of %s is refused'),
    (3, 'DELETE FROM %1$I', 'validator: DELETE from %s is refused'),
    (4, 'TRUNCATE %1$I', 'validator: TRUNCATE of %s is refused'),
    (5, $$INSERT INTO %1$I_staging (workflow_run_id, raw_data) VALUES (%2$s, '{}')$$, 'validator: INSERT into %s_staging is refused'),
    (6, 'UPDATE %1$I_staging SET validated = true', 'validator: writing a verdict of %s_staging directly is refused'),
    (7, 'DELETE FROM %1$I_staging', 'validator: DELETE from %s_staging is refused'),
    (8, 'TRUNCATE %1$I_staging', 'validator: TRUNCATE of %s_staging is refused'),
    (9, $$SELECT pgstaging.restage(%1$L, 1, '{}')$$, 'validator: pgstaging.restage(%s) is refused')
) AS x (n, stmt, why);

-- Every table, what a reader may not do.
CREATE TEMP TABLE reader_refusals AS
SELECT e.rel, x.n, format(x.stmt, e.rel, c.attname) AS stmt, format(x.why, e.rel) AS why
FROM expected_relations AS e
-- A column UPDATE may name (not an identity column: that fails earlier).
CROSS JOIN LATERAL (
    SELECT a.attname FROM pg_catalog.pg_attribute AS a
    WHERE a.attrelid = to_regclass(e.rel) AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attidentity = '' AND a.attgenerated = ''
    ORDER BY a.attnum LIMIT 1
) AS c
CROSS JOIN (VALUES
    (1, 'INSERT INTO %s DEFAULT VALUES', 'reader: INSERT into %s is refused'),
    (2, 'UPDATE %1$s SET %2$I = %2$I', 'reader: UPDATE of %s is refused'),
    (3, 'DELETE FROM %s', 'reader: DELETE from %s is refused'),
    (4, 'TRUNCATE %s', 'reader: TRUNCATE of %s is refused')
) AS x (n, stmt, why)
WHERE e.kind <> 'view';

-- Every function called with NULL arguments.
CREATE TEMP TABLE calls AS
SELECT e.sig, e.access,
       format('SELECT %s(%s)', p.oid::regproc,
              (SELECT string_agg('NULL::' || pg_catalog.format_type(t.oid, NULL), ', ' ORDER BY t.n)
               FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS t (oid, n))) AS stmt
FROM expected_functions AS e
INNER JOIN pg_catalog.pg_proc AS p ON p.oid = to_regprocedure(e.sig);

GRANT SELECT ON script_refusals, validator_refusals, reader_refusals, calls, expected_relations, staged TO PUBLIC;

-- The script group role stages as one actor with stage on every table (a
-- fresh install enforces actor rights; 08_actor_rights tests them).
SELECT pgstaging.add_actor('pgtap_privileges', :'script') AS tap_actor \gset
SELECT count(*) AS _allowed
FROM pgstaging.staged_tables AS t, LATERAL (SELECT pgstaging.allow_actor('pgtap_privileges', t.table_name, 'stage')) AS a \gset

-- script ---------------------------------------------------------------------
SELECT set_config('role', :'script', true) AS _role \gset

SELECT lives_ok(
    format($$INSERT INTO %I_staging (workflow_run_id, actor_id, interaction_id, raw_data)
             VALUES (%s, NULL, 1, '{}') RETURNING staging_id$$, name, :run),
    format('script: may INSERT the four raw columns of %s_staging and read back staging_id', name)
)
FROM staged ORDER BY name;
SELECT lives_ok('SELECT actor_id, actor_name FROM actors', 'script: may resolve actor names');
SELECT lives_ok('SELECT * FROM pgstaging.staged_tables', 'script: may read the staged-table registry');
SELECT is(pgstaging.run_exists(:run), true, 'script: may call pgstaging.run_exists');

SELECT throws_ok(stmt, '42501', NULL, why) FROM script_refusals ORDER BY name, n;

SELECT throws_ok(
    format($$INSERT INTO postings_staging (workflow_run_id, raw_data, %I) VALUES (%s, '{}', %s)$$, c.col, :run, c.val),
    '42501', NULL, pg_catalog.format('script: INSERT of postings_staging.%s is refused', c.col)
)
FROM (VALUES ('validated', 'true'), ('promoted', 'true'), ('outcome', '''promoted'''),
             ('validation_errors', '''[]'''), ('validated_at', 'now()'), ('validated_by', 'session_user'),
             ('rule_version', '1'), ('promoted_to_id', '1'), ('promoted_at', 'now()'),
             ('rolled_back_at', 'now()'), ('rolled_back_by', 'session_user'), ('rollback_reason', '''x'''),
             ('supersedes_staging_id', '1'), ('inserted_by', 'session_user'), ('created_at', 'now()')) AS c (col, val);

SELECT throws_ok(format('SELECT * FROM pgstaging.run_status(%s)', :run), '42501', NULL,
                 'script: run_status (reads verdicts) is refused');
SELECT throws_ok('SELECT * FROM workflow_runs', '42501', NULL, 'script: SELECT from workflow_runs is refused');
SELECT throws_ok('INSERT INTO workflow_runs DEFAULT VALUES', '42501', NULL, 'script: INSERT into workflow_runs is refused');
SELECT throws_ok($$INSERT INTO actors (actor_name) VALUES ('me')$$, '42501', NULL, 'script: INSERT into actors is refused');
SELECT throws_ok('UPDATE actors SET actor_name = actor_name', '42501', NULL, 'script: UPDATE of actors is refused');
SELECT throws_ok('SELECT * FROM pgstaging.installs', '42501', NULL, 'script: SELECT from the install ledger is refused');
SELECT throws_ok('SELECT * FROM pgstaging.promotion_log', '42501', NULL, 'script: SELECT from the promotion log is refused');
SELECT throws_ok('UPDATE pgstaging.staged_tables SET insert_sql = insert_sql', '42501', NULL,
                 'script: rewriting the registry''s generated SQL is refused');
SELECT throws_ok($$SELECT pgstaging.register_staged_table('{}')$$, '42501', NULL, 'script: register_staged_table is refused');
SELECT throws_ok('CREATE TABLE public.tap_x (i integer)', '42501', NULL, 'script: CREATE in public is refused');
SELECT throws_ok('CREATE TABLE pgstaging.tap_x (i integer)', '42501', NULL, 'script: CREATE in pgstaging is refused');

RESET ROLE;

-- validator ------------------------------------------------------------------
SELECT set_config('role', :'validator', true) AS _role \gset

SELECT lives_ok(format('SELECT * FROM %I_staging', name), format('validator: may read %s_staging', name))
FROM staged ORDER BY name;
SELECT lives_ok(format('SELECT promote_%s_staging(%s)', name, :run), format('validator: may call promote_%s_staging', name))
FROM staged ORDER BY name;
SELECT throws_ok(stmt, '42501', NULL, why) FROM validator_refusals ORDER BY name, n;
SELECT throws_ok('INSERT INTO workflow_runs DEFAULT VALUES', '42501', NULL, 'validator: INSERT into workflow_runs is refused');
SELECT throws_ok('DELETE FROM pgstaging.promotion_log', '42501', NULL, 'validator: DELETE from the promotion log is refused');
SELECT throws_ok($$SELECT pgstaging.register_staged_table('{}')$$, '42501', NULL, 'validator: register_staged_table is refused');

RESET ROLE;

-- reader ---------------------------------------------------------------------
SELECT set_config('role', :'reader', true) AS _role \gset

SELECT lives_ok(format('SELECT * FROM %s', rel), 'reader: may read every column of ' || rel)
FROM expected_relations ORDER BY rel;
SELECT throws_ok(stmt, '42501', NULL, why) FROM reader_refusals ORDER BY rel, n;
SELECT throws_ok(stmt, '42501', NULL, 'reader: refused: ' || sig) FROM calls WHERE access IN ('validator', 'steward', 'owner', 'starter') ORDER BY sig;

RESET ROLE;

-- PUBLIC: a role with no membership at all (rolled back with the rest) --------
CREATE ROLE pgstaging_tap_nobody NOLOGIN;
SET LOCAL ROLE pgstaging_tap_nobody;

SELECT throws_ok(format('SELECT * FROM %s', rel), '42501', NULL, 'PUBLIC: reading is refused: ' || rel)
FROM expected_relations ORDER BY rel;
SELECT throws_ok(stmt, '42501', NULL, 'PUBLIC: calling is refused: ' || sig) FROM calls ORDER BY sig;

RESET ROLE;

-- With USAGE on pgstaging, EXECUTE itself is what refuses, not the schema.
GRANT USAGE ON SCHEMA pgstaging TO pgstaging_tap_nobody;
SET LOCAL ROLE pgstaging_tap_nobody;

SELECT throws_ok(stmt, '42501', NULL, 'PUBLIC with schema USAGE: still refused: ' || sig)
FROM calls WHERE access <> 'public' ORDER BY sig;

RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
