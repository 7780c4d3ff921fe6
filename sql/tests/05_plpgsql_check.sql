-- Static checks of every PL/pgSQL function of pgstaging (schemas public and
-- pgstaging, extensions' own functions excluded) with plpgsql_check: no
-- errors anywhere, and no warnings but the reviewed kinds below. Trigger
-- functions are checked once per table they are attached to. plpgsql_check
-- applies each function's own SET search_path, so an unqualified name that
-- the pinned path cannot see is an error here.
--
-- Warnings ignored, and why:
--   performance "target type is different type than source type", text to
--       name and bigint to integer: assignments of jsonb ->> text to name
--       variables and of counts to integers; one cast per call, not per row.
--   performance "routine is marked as VOLATILE, should be STABLE/IMMUTABLE":
--       plpgsql_check cannot see through EXECUTE; these functions run
--       promotions or call the functions that do, so VOLATILE is right.
--   warning "target type is different type than source type", text to jsonb
--       or text[]: literal defaults such as v_cascaded jsonb := '[]'.
--   warning extra "OUT variable ... is maybe unmodified": the OUT columns are
--       set by RETURN QUERY EXECUTE, which plpgsql_check cannot follow.
--   security "text type variable is not sanitized" / "the expression is not
--       SQL injection safe": reviewed; every EXECUTEd text is either built
--       with format() %I / %L / regclass output, or is a statement generated
--       at registration and read from pgstaging.staged_tables, which only
--       the owner can write (02_privileges.sql). Values go in with USING.
--
-- plpgsql_check is built for PostgreSQL 15 only (Debian's package). On 16+
-- its checks are skipped, with a WARNING line naming them and the version;
-- the checks of the generated statements run on every version. On 15 a
-- missing plpgsql_check is an error, not a skip.
BEGIN;
SELECT plan(3 + (
    SELECT (2 * count(*))::integer FROM pgstaging.staged_tables
) + (
    SELECT count(coalesce(t.tgrelid, 0))::integer
    FROM pg_catalog.pg_proc AS p
    INNER JOIN pg_catalog.pg_language AS l ON p.prolang = l.oid AND l.lanname = 'plpgsql'
    LEFT JOIN LATERAL (SELECT DISTINCT t.tgrelid FROM pg_catalog.pg_trigger AS t WHERE t.tgfoid = p.oid) AS t
        ON p.prorettype = 'trigger'::regtype
    WHERE p.pronamespace IN ('public'::regnamespace, 'pgstaging'::regnamespace)
      AND NOT (p.prorettype = 'trigger'::regtype AND t.tgrelid IS NULL)
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                      WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
));

-- What to check: (function, table) for trigger functions, (function, 0)
-- for the others.
CREATE TEMP TABLE targets AS
SELECT p.oid AS fn, coalesce(t.tgrelid, 0)::regclass AS relid, p.prorettype = 'trigger'::regtype AS is_trigger
FROM pg_catalog.pg_proc AS p
INNER JOIN pg_catalog.pg_language AS l ON p.prolang = l.oid AND l.lanname = 'plpgsql'
LEFT JOIN LATERAL (SELECT DISTINCT t.tgrelid FROM pg_catalog.pg_trigger AS t WHERE t.tgfoid = p.oid) AS t
    ON p.prorettype = 'trigger'::regtype
WHERE p.pronamespace IN ('public'::regnamespace, 'pgstaging'::regnamespace)
  -- A trigger function is checked against each table it is attached to;
  -- capture_preimage is attached only where a spec uses the update policy.
  AND NOT (p.prorettype = 'trigger'::regtype AND t.tgrelid IS NULL)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                  WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e');

CREATE TEMP TABLE checker AS
SELECT
    (SELECT count(*) > 0 FROM pg_catalog.pg_extension WHERE extname = 'plpgsql_check') AS present,
    current_setting('server_version') AS server_version,
    current_setting('server_version_num')::integer AS server_version_num;

-- The harness can fail: a broken function is reported.
CREATE FUNCTION pg_temp.broken() RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (SELECT count(*) FROM postings);  -- not on the pinned path
END
$$;

CREATE TEMP TABLE findings (fn oid, relid regclass, level text, message text, detail text, lineno integer, query text);
CREATE TEMP TABLE harness (reports_error boolean);

-- Dynamic SQL, so that this file parses where plpgsql_check is absent.
DO $$
DECLARE
    v_checker record;
BEGIN
    SELECT * INTO v_checker FROM checker;
    IF v_checker.present THEN
        EXECUTE $q$
            INSERT INTO findings
            SELECT t.fn, t.relid, c.level, c.message, c.detail, c.lineno, c.query
            FROM targets AS t
            CROSS JOIN LATERAL plpgsql_check_function_tb(
                t.fn, t.relid,
                fatal_errors => false, other_warnings => true, performance_warnings => true,
                extra_warnings => true, security_warnings => true
            ) AS c$q$;
        EXECUTE $q$
            INSERT INTO harness
            SELECT EXISTS (SELECT 1 FROM plpgsql_check_function_tb('pg_temp.broken()'::regprocedure) AS c
                           WHERE c.level = 'error')$q$;
    ELSIF v_checker.server_version_num < 160000 THEN
        RAISE EXCEPTION 'pgstaging tests: plpgsql_check is missing on PostgreSQL %', v_checker.server_version
            USING HINT = 'make system-deps installs postgresql-15-plpgsql-check';
    ELSE
        RAISE WARNING 'pgstaging tests: plpgsql_check is not available on PostgreSQL %: NOT RUN: its static checks (no errors, no unreviewed warnings) of % PL/pgSQL functions and its harness check (% tests skipped)',
            v_checker.server_version, (SELECT count(*) FROM targets), (SELECT count(*) FROM targets) + 2;
    END IF;
END
$$;

SELECT ok(
    (SELECT h.reports_error FROM harness AS h),
    'plpgsql_check reports an error for a function whose pinned search_path cannot see its table'
)
FROM checker
WHERE present;

SELECT is_empty(
    $$SELECT fn::regprocedure FROM targets WHERE is_trigger AND relid = 0$$,
    'every PL/pgSQL trigger function is attached to a table, so it was checked'
);

SELECT is_empty(
    format($$SELECT level, message, detail, lineno FROM findings WHERE fn = %s AND relid = %s AND level = 'error'$$,
           fn::integer, relid::oid),
    format('plpgsql_check: no errors in %s%s', fn::regprocedure,
           CASE WHEN relid::oid <> 0 THEN ' on ' || relid::text ELSE '' END)
)
FROM targets
WHERE (SELECT present FROM checker)
ORDER BY fn::regprocedure::text, relid::text;

SELECT is_empty(
    $$SELECT fn::regprocedure, relid, level, message, detail, lineno FROM findings
      WHERE level <> 'error'
        AND NOT (level = 'performance' AND message = 'target type is different type than source type'
                 AND detail ~ '^cast "(text|bigint)" value to "(name|integer)" type$')
        AND NOT (level = 'performance' AND message ~ '^routine is marked as VOLATILE, should be (STABLE|IMMUTABLE)$')
        AND NOT (level = 'warning' AND message = 'target type is different type than source type'
                 AND detail ~ '^cast "text" value to "(jsonb|text\[\])" type$')
        AND NOT (level = 'warning extra' AND message ~ '^OUT variable ".*" is maybe unmodified$')
        AND NOT (level = 'security' AND message IN ('text type variable is not sanitized',
                                                    'the expression is not SQL injection safe'))$$,
    'plpgsql_check: no warnings but the reviewed kinds listed at the top of this file'
)
FROM checker
WHERE present;

SELECT skip(
    format('plpgsql_check is not available on PostgreSQL %s: its static checks were not run', server_version),
    (SELECT count(*)::integer FROM targets) + 2
)
FROM checker
WHERE NOT present;

-- The statements promotion EXECUTEs are generated at registration, so
-- plpgsql_check cannot see them: each one must parse and plan under the
-- search_path the engine pins (pg_catalog, pg_temp).
CREATE FUNCTION pg_temp.prepares(p_sql text) RETURNS text LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE 'PREPARE pgtap_generated (integer, text, integer, bigint[], integer) AS ' || p_sql;
    DEALLOCATE pgtap_generated;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SELECT is(pg_temp.prepares(s.stmt), 'ok', format('the generated %s of %s plans under pg_catalog, pg_temp', s.kind, t.table_name))
FROM pgstaging.staged_tables AS t
CROSS JOIN LATERAL (VALUES ('insert_sql', t.insert_sql), ('verdict_sql', t.verdict_sql))
    AS s (kind, stmt)
WHERE s.stmt IS NOT NULL
ORDER BY t.table_name, s.kind;

SELECT * FROM finish();
ROLLBACK;
