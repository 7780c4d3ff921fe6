-- Promotion semantics: the rules, the summary JSON, duplicates, audit
-- columns, idempotence and the per-run ledger. Rows are staged by
-- the script group role and promoted by the validator role, as in production.
-- interaction_id labels each staged row; the expected table says what must
-- become of it.
BEGIN;
SELECT plan(64);

SELECT count(*) AS postings_before FROM postings \gset
INSERT INTO workflow_runs DEFAULT VALUES RETURNING workflow_run_id AS run0 \gset
INSERT INTO workflow_runs DEFAULT VALUES RETURNING workflow_run_id AS run1 \gset
INSERT INTO workflow_runs DEFAULT VALUES RETURNING workflow_run_id AS run2 \gset
SELECT max(workflow_run_id) + 1000 AS unknown_run FROM workflow_runs \gset
INSERT INTO actors (actor_name) VALUES ('pgtap_fetcher') RETURNING actor_id AS actor \gset
SELECT pgstaging.group_role('script') AS script, pgstaging.group_role('validator') AS validator,
       pgstaging.group_role('reader') AS reader \gset
-- The script group role stages as one actor with stage on every table (a
-- fresh install enforces actor rights; 08_actor_rights tests them).
SELECT pgstaging.add_actor('pgtap_fetcher', :'script') AS tap_actor \gset
SELECT count(*) AS _allowed
FROM pgstaging.staged_tables AS t, LATERAL (SELECT pgstaging.allow_actor('pgtap_fetcher', t.table_name, 'stage')) AS a \gset

-- ---------------------------------------------------------------------------
-- Staged rows, in staging_id order.
-- ---------------------------------------------------------------------------
SELECT set_config('role', :'script', true) AS _role \gset
INSERT INTO postings_staging (workflow_run_id, actor_id, interaction_id, raw_data)
VALUES (:run0, :actor, 900, '{"job_id": "EXIST-1", "title": "Existing"}');

INSERT INTO postings_staging (workflow_run_id, actor_id, interaction_id, raw_data) VALUES
    (:run2, :actor, 2001, '{"job_id": "A-1", "title": "other run, same key"}'),
    (:run2, :actor, 2002, '{"job_id": "D-1", "title": "other run"}');

INSERT INTO postings_staging (workflow_run_id, actor_id, interaction_id, raw_data) VALUES
    (:run1, :actor, 1001, '{"job_id": "A-1", "title": "  Analyst  ", "description": " desc ", "location": " Berlin "}'),
    (:run1, :actor, 1002, '{"job_id": " A-2\t\n", "title": "Dev"}'),
    (:run1, :actor, 1003, '{"job_id": 12345, "title": "Int key"}'),
    (:run1, :actor, 1004, '{"job_id": "A-1", "title": "Dup in run"}'),
    (:run1, :actor, 1005, '{"job_id": "\u00a0A-1 ", "title": "dup after trimming"}'),
    (:run1, :actor, 1006, '[1, 2]'),
    (:run1, :actor, 1007, '"just a string"'),
    (:run1, :actor, 1008, '{"title": "no id"}'),
    (:run1, :actor, 1009, '{"job_id": "   ", "title": "x"}'),
    (:run1, :actor, 1010, '{"job_id": true, "title": "x"}'),
    (:run1, :actor, 1011, '{"job_id": 1.5, "title": "x"}'),
    (:run1, :actor, 1012, jsonb_build_object('job_id', repeat('k', 201), 'title', 'x')),
    (:run1, :actor, 1013, jsonb_build_object('job_id', repeat('K', 200), 'title', 'x')),
    (:run1, :actor, 1014, '{"job_id": "B-1"}'),
    (:run1, :actor, 1015, '{"job_id": "B-2", "title": " \t\u00a0\u2003 "}'),
    (:run1, :actor, 1016, '{"job_id": "B-3", "title": 42}'),
    (:run1, :actor, 1017, jsonb_build_object('job_id', 'B-4', 'title', repeat(chr(233), 500))),
    (:run1, :actor, 1018, jsonb_build_object('job_id', 'B-5', 'title', repeat(chr(233), 501))),
    (:run1, :actor, 1019, '{"job_id": "B-6", "title": "ok", "description": 7}'),
    (:run1, :actor, 1020, '{"job_id": "B-7", "title": "ok", "location": ["x"]}'),
    (:run1, :actor, 1021, '{"job_id": "B-8", "title": "ok", "description": null, "location": null}'),
    (:run1, :actor, 1022, '{"job_id": null, "title": "x"}'),
    (:run1, :actor, 1023, '{"job_id": "", "title": 5, "description": 1, "location": false}'),
    (:run1, :actor, 1024, '{"job_id": "EXIST-1", "title": "cross-run duplicate"}'),
    (:run1, :actor, 1025, '{}'),
    (:run1, :actor, 1026, '{"job_id": "A-1"}'),
    (:run1, :actor, 1027, ('{"job_id": ' || repeat('9', 201) || ', "title": "x"}')::jsonb),
    (:run1, :actor, 1028, '{"job_id": "12345", "title": "string form of an integer key"}'),
    (:run1, :actor, 1029, '{"job_id": "C-1", "title": "t", "extra": 1, "company_name": " ACME ", "source_website": "acme.example"}'),
    (:run1, :actor, 1030, '{"job_id": "B-9", "title": "ok", "description": "   "}'),
    (:run1, :actor, 1031, 'null'),
    (:run1, :actor, 1032, '{"job_id": "C-2", "title": "  x  \u3000"}'),
    (:run1, :actor, 1033, jsonb_build_object('job_id', 'C-3', 'title', '  ' || repeat('t', 500) || '  ')),
    (:run1, :actor, 1034, '{"job_id": "F-1"}'),
    (:run1, :actor, 1035, '{"job_id": "F-1", "title": "valid after an invalid one"}');
RESET ROLE;

-- ---------------------------------------------------------------------------
-- Expectations.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE expected (
    interaction_id bigint PRIMARY KEY,
    batch text NOT NULL,
    outcome text NOT NULL,
    winner bigint,      -- for a duplicate: the row whose posting it links
    errors jsonb
);
INSERT INTO expected VALUES
    (900, 'run0', 'promoted', NULL, NULL),
    (1001, 'run1', 'promoted', NULL, NULL),
    (1002, 'run1', 'promoted', NULL, NULL),
    (1003, 'run1', 'promoted', NULL, NULL),
    (1004, 'run1', 'duplicate', 1001, NULL),
    (1005, 'run1', 'duplicate', 1001, NULL),
    (1006, 'run1', 'failed', NULL, '[{"field": "raw_data", "error": "not an object"}]'),
    (1007, 'run1', 'failed', NULL, '[{"field": "raw_data", "error": "not an object"}]'),
    (1008, 'run1', 'failed', NULL, '[{"field": "job_id", "error": "missing"}]'),
    (1009, 'run1', 'failed', NULL, '[{"field": "job_id", "error": "empty"}]'),
    (1010, 'run1', 'failed', NULL, '[{"field": "job_id", "error": "wrong type"}]'),
    (1011, 'run1', 'failed', NULL, '[{"field": "job_id", "error": "not an integer"}]'),
    (1012, 'run1', 'failed', NULL, '[{"field": "job_id", "error": "too long"}]'),
    (1013, 'run1', 'promoted', NULL, NULL),
    (1014, 'run1', 'failed', NULL, '[{"field": "title", "error": "missing"}]'),
    (1015, 'run1', 'failed', NULL, '[{"field": "title", "error": "empty"}]'),
    (1016, 'run1', 'failed', NULL, '[{"field": "title", "error": "wrong type"}]'),
    (1017, 'run1', 'promoted', NULL, NULL),
    (1018, 'run1', 'failed', NULL, '[{"field": "title", "error": "too long"}]'),
    (1019, 'run1', 'failed', NULL, '[{"field": "description", "error": "wrong type"}]'),
    (1020, 'run1', 'failed', NULL, '[{"field": "location", "error": "wrong type"}]'),
    (1021, 'run1', 'promoted', NULL, NULL),
    (1022, 'run1', 'failed', NULL, '[{"field": "job_id", "error": "missing"}]'),
    (1023, 'run1', 'failed', NULL, '[{"field": "job_id", "error": "empty"}, {"field": "title", "error": "wrong type"},
                                     {"field": "description", "error": "wrong type"}, {"field": "location", "error": "wrong type"}]'),
    (1024, 'run1', 'duplicate', 900, NULL),
    (1025, 'run1', 'failed', NULL, '[{"field": "job_id", "error": "missing"}, {"field": "title", "error": "missing"}]'),
    (1026, 'run1', 'failed', NULL, '[{"field": "title", "error": "missing"}]'),
    (1027, 'run1', 'failed', NULL, '[{"field": "job_id", "error": "too long"}]'),
    (1028, 'run1', 'duplicate', 1003, NULL),
    (1029, 'run1', 'promoted', NULL, NULL),
    (1030, 'run1', 'promoted', NULL, NULL),
    (1031, 'run1', 'failed', NULL, '[{"field": "raw_data", "error": "not an object"}]'),
    (1032, 'run1', 'promoted', NULL, NULL),
    (1033, 'run1', 'promoted', NULL, NULL),
    (1034, 'run1', 'failed', NULL, '[{"field": "title", "error": "missing"}]'),
    (1035, 'run1', 'promoted', NULL, NULL),
    -- Staged into run1 after its promotion.
    (1040, 'late', 'promoted', NULL, NULL),
    (1041, 'late', 'duplicate', 1002, NULL),
    (2001, 'run2', 'duplicate', 1001, NULL),
    (2002, 'run2', 'promoted', NULL, NULL);

CREATE TEMP TABLE expected_postings (
    interaction_id bigint PRIMARY KEY,
    external_job_id text,
    source_website text,
    job_title text,
    job_description text,
    company_name text,
    location text
);
INSERT INTO expected_postings VALUES
    (1001, 'A-1', 'deutsche_bank', 'Analyst', 'desc', 'Deutsche Bank', 'Berlin'),
    (1002, 'A-2', 'deutsche_bank', 'Dev', NULL, 'Deutsche Bank', NULL),
    (1003, '12345', 'deutsche_bank', 'Int key', NULL, 'Deutsche Bank', NULL),
    (1013, repeat('K', 200), 'deutsche_bank', 'x', NULL, 'Deutsche Bank', NULL),
    (1017, 'B-4', 'deutsche_bank', repeat(chr(233), 500), NULL, 'Deutsche Bank', NULL),
    (1021, 'B-8', 'deutsche_bank', 'ok', NULL, 'Deutsche Bank', NULL),
    (1029, 'C-1', 'acme.example', 't', NULL, 'ACME', NULL),
    (1030, 'B-9', 'deutsche_bank', 'ok', NULL, 'Deutsche Bank', NULL),
    (1032, 'C-2', 'deutsche_bank', 'x', NULL, 'Deutsche Bank', NULL),
    (1033, 'C-3', 'deutsche_bank', repeat('t', 500), NULL, 'Deutsche Bank', NULL),
    (1035, 'F-1', 'deutsche_bank', 'valid after an invalid one', NULL, 'Deutsche Bank', NULL);

-- Each expected row with its staging_id and the posting it must link: its
-- own for a promoted row, its winner's for a duplicate.
CREATE TEMP VIEW expected_links AS
SELECT e.interaction_id, e.batch, e.outcome, e.errors, s.staging_id,
       (SELECT p.posting_id
        FROM public.postings AS p
        INNER JOIN public.postings_staging AS w ON p.created_by_staging_id = w.staging_id
        WHERE e.outcome <> 'failed' AND w.interaction_id = coalesce(e.winner, e.interaction_id)) AS posting_id
FROM expected AS e
INNER JOIN public.postings_staging AS s ON e.interaction_id = s.interaction_id
WHERE s.workflow_run_id IN (:run0, :run1, :run2);

CREATE TEMP VIEW expected_summary AS
SELECT batch, jsonb_build_object(
    'status', 'SUCCESS',
    'promoted_count', count(*) FILTER (WHERE outcome = 'promoted'),
    'duplicate_count', count(*) FILTER (WHERE outcome = 'duplicate'),
    'failed_count', count(*) FILTER (WHERE outcome = 'failed'),
    'details', jsonb_build_object(
        'promoted', coalesce(jsonb_agg(jsonb_build_object('staging_id', staging_id, 'posting_id', posting_id)
                                       ORDER BY staging_id) FILTER (WHERE outcome = 'promoted'), '[]'),
        'duplicates', coalesce(jsonb_agg(jsonb_build_object('staging_id', staging_id, 'posting_id', posting_id)
                                         ORDER BY staging_id) FILTER (WHERE outcome = 'duplicate'), '[]'),
        'failed', coalesce(jsonb_agg(jsonb_build_object('staging_id', staging_id, 'errors', errors)
                                     ORDER BY staging_id) FILTER (WHERE outcome = 'failed'), '[]')
    )
) AS summary
FROM expected_links
GROUP BY batch;

-- ---------------------------------------------------------------------------
-- Promote run0 (an existing posting), then run1.
-- ---------------------------------------------------------------------------
SELECT set_config('role', :'validator', true) AS _role \gset
SELECT promote_postings_staging(:run0) AS r0 \gset
SELECT promote_postings_staging(:run1) AS r1 \gset
RESET ROLE;

SELECT is(:'r0'::jsonb, (SELECT summary FROM expected_summary WHERE batch = 'run0'), 'run0: one promoted posting');

-- The summary: shape, counts, details.
SELECT is(:'r1'::jsonb ->> 'status', 'SUCCESS', 'run1: status is SUCCESS');
SELECT is(
    ARRAY(SELECT k.key FROM jsonb_object_keys(:'r1'::jsonb) AS k (key) ORDER BY k.key),
    ARRAY['details', 'duplicate_count', 'failed_count', 'promoted_count', 'status'],
    'run1: the summary has exactly the design''s keys'
);
SELECT is(
    ARRAY(SELECT k.key FROM jsonb_object_keys(:'r1'::jsonb -> 'details') AS k (key) ORDER BY k.key),
    ARRAY['duplicates', 'failed', 'promoted'],
    'run1: details has exactly promoted, duplicates, failed'
);
SELECT is(:'r1'::jsonb -> 'promoted_count', '11'::jsonb, 'run1: promoted_count is the number 11');
SELECT is(:'r1'::jsonb -> 'duplicate_count', '4'::jsonb, 'run1: duplicate_count is the number 4');
SELECT is(:'r1'::jsonb -> 'failed_count', '20'::jsonb, 'run1: failed_count is the number 20');
SELECT is(:'r1'::jsonb -> 'details' -> 'promoted',
          (SELECT summary -> 'details' -> 'promoted' FROM expected_summary WHERE batch = 'run1'),
          'run1: details.promoted lists {staging_id, posting_id} of each promoted row, by staging_id');
SELECT is(:'r1'::jsonb -> 'details' -> 'duplicates',
          (SELECT summary -> 'details' -> 'duplicates' FROM expected_summary WHERE batch = 'run1'),
          'run1: details.duplicates links each duplicate to the existing posting');
SELECT is(:'r1'::jsonb -> 'details' -> 'failed',
          (SELECT summary -> 'details' -> 'failed' FROM expected_summary WHERE batch = 'run1'),
          'run1: details.failed lists {staging_id, errors: [{field, error}]} of each failed row');
SELECT is(:'r1'::jsonb, (SELECT summary FROM expected_summary WHERE batch = 'run1'),
          'run1: the whole summary is exactly as expected');

SELECT results_eq(
    format($$SELECT action, called_by::text, rule_version, promoted_count, duplicate_count, failed_count
             FROM pgstaging.promotion_log WHERE table_name = 'postings' AND workflow_run_id = %s$$, :run1),
    $$SELECT 'promote', session_user::text, rule_version, 11::bigint, 4::bigint, 20::bigint
      FROM pgstaging.staged_tables WHERE table_name = 'postings'$$,
    'run1: the promotion log has one row: who, under which rules, how many'
);

-- The rules, one by one, as the summary reports them.
SELECT is(
    (SELECT f -> 'errors' FROM jsonb_array_elements(:'r1'::jsonb -> 'details' -> 'failed') AS f
     WHERE (f ->> 'staging_id')::bigint = (SELECT staging_id FROM expected_links WHERE interaction_id = x.i)),
    x.errors,
    x.why
)
FROM (VALUES
    (1006, '[{"field": "raw_data", "error": "not an object"}]'::jsonb, 'raw_data an array: not an object'),
    (1031, '[{"field": "raw_data", "error": "not an object"}]', 'raw_data JSON null: not an object'),
    (1008, '[{"field": "job_id", "error": "missing"}]', 'job_id absent: missing'),
    (1022, '[{"field": "job_id", "error": "missing"}]', 'job_id JSON null: missing'),
    (1009, '[{"field": "job_id", "error": "empty"}]', 'job_id blank: empty'),
    (1010, '[{"field": "job_id", "error": "wrong type"}]', 'job_id boolean: wrong type'),
    (1011, '[{"field": "job_id", "error": "not an integer"}]', 'job_id 1.5: not an integer'),
    (1012, '[{"field": "job_id", "error": "too long"}]', 'job_id of 201 characters: too long'),
    (1027, '[{"field": "job_id", "error": "too long"}]', 'job_id integer of 201 digits: too long'),
    (1014, '[{"field": "title", "error": "missing"}]', 'title absent: missing'),
    (1015, '[{"field": "title", "error": "empty"}]', 'title of ASCII and Unicode whitespace only: empty'),
    (1016, '[{"field": "title", "error": "wrong type"}]', 'title a number: wrong type'),
    (1018, '[{"field": "title", "error": "too long"}]', 'title of 501 two-byte characters: too long'),
    (1019, '[{"field": "description", "error": "wrong type"}]', 'description a number: wrong type'),
    (1020, '[{"field": "location", "error": "wrong type"}]', 'location an array: wrong type')
) AS x (i, errors, why);

SELECT is(
    (SELECT s.outcome FROM expected_links AS l INNER JOIN postings_staging AS s ON l.staging_id = s.staging_id
     WHERE l.interaction_id = 1017),
    'promoted', 'a title of 500 two-byte characters (1000 bytes) is promoted'
);
SELECT is(
    (SELECT char_length(job_title) || '/' || octet_length(job_title) FROM postings WHERE external_job_id = 'B-4'),
    '500/1000', 'and stored whole: 500 characters, 1000 bytes'
);

-- The postings run1 created, field by field.
SELECT results_eq(
    format($$SELECT s.interaction_id, p.created_by_interaction_id, p.external_job_id, p.source_website, p.job_title,
                    p.job_description, p.company_name, p.location, p.enabled, p.invalidated
             FROM postings AS p JOIN postings_staging AS s ON s.staging_id = p.created_by_staging_id
             WHERE s.workflow_run_id = %s
             ORDER BY s.interaction_id$$, :run1),
    $$SELECT interaction_id, interaction_id, external_job_id, source_website, job_title,
             job_description, company_name, location, true, false
      FROM expected_postings ORDER BY interaction_id$$,
    'run1: the postings created, normalized (trimmed, blanks to NULL, integer keys as digits), with their audit trail'
);
SELECT is(
    (SELECT count(*) FROM postings) - :postings_before, 12::bigint,
    'run0 and run1 created 12 postings, no more'
);
SELECT results_eq(
    $$SELECT p.job_title, s.interaction_id FROM postings AS p
      JOIN postings_staging AS s ON s.staging_id = p.created_by_staging_id WHERE p.external_job_id = 'A-1'$$,
    $$VALUES ('Analyst', 1001::bigint)$$,
    'in-run duplicates: the lowest staging_id wins'
);

-- The staged rows' verdicts.
SELECT results_eq(
    format($$SELECT s.interaction_id, s.validated, s.promoted, s.outcome, s.validation_errors,
                    s.promoted_to_id IS NOT DISTINCT FROM l.posting_id
             FROM postings_staging AS s JOIN expected_links AS l USING (staging_id)
             WHERE s.workflow_run_id = %s ORDER BY s.interaction_id$$, :run1),
    $$SELECT interaction_id, true, outcome <> 'failed', outcome, errors, true
      FROM expected WHERE batch = 'run1' ORDER BY interaction_id$$,
    'run1: every staged row carries its verdict, errors and link'
);
SELECT results_eq(
    $$SELECT s.validated, s.promoted, s.outcome, s.validation_errors, p.external_job_id, p.job_title
      FROM postings_staging AS s JOIN postings AS p ON p.posting_id = s.promoted_to_id
      WHERE s.interaction_id = 1024$$,
    $$VALUES (true, true, 'duplicate', NULL::jsonb, 'EXIST-1', 'Existing')$$,
    'cross-run duplicate: promoted = true, outcome duplicate, linked to the existing, unchanged posting'
);
SELECT is_empty(
    format($$SELECT staging_id FROM postings_staging
             WHERE workflow_run_id IN (%s, %s)
               AND (validated_by IS DISTINCT FROM session_user OR inserted_by IS DISTINCT FROM session_user
                    OR validated_at IS NULL OR (promoted_at IS NOT NULL) IS DISTINCT FROM promoted
                    OR (outcome = 'failed') IS DISTINCT FROM (promoted_to_id IS NULL))$$, :run0, :run1),
    'audit: inserted_by and validated_by are session_user (not the definer), timestamps set as the verdict says'
);
SELECT is(
    (SELECT count(*) FROM postings_staging WHERE workflow_run_id = :run2 AND NOT validated),
    2::bigint, 'promoting run1 left run2 alone'
);

-- ---------------------------------------------------------------------------
-- Idempotence, unknown and NULL runs.
-- ---------------------------------------------------------------------------
SELECT jsonb_agg(to_jsonb(s) ORDER BY s.staging_id) AS staging_snapshot FROM postings_staging AS s \gset
SELECT jsonb_agg(to_jsonb(p) ORDER BY p.posting_id) AS postings_snapshot FROM postings AS p \gset

SELECT set_config('role', :'validator', true) AS _role \gset
SELECT promote_postings_staging(:run1) AS again \gset
SELECT promote_postings_staging(:unknown_run) AS unknown \gset
SELECT throws_ok('SELECT promote_postings_staging(NULL)', '22004', NULL, 'a NULL run raises 22004');
SELECT is(pgstaging.run_exists(:unknown_run), false, 'run_exists: an unknown run does not exist');
SELECT is(pgstaging.run_exists(:run1), true, 'run_exists: run1 exists');
RESET ROLE;

SELECT is(
    :'again'::jsonb,
    '{"status": "SUCCESS", "promoted_count": 0, "duplicate_count": 0, "failed_count": 0,
      "details": {"promoted": [], "duplicates": [], "failed": []}}'::jsonb,
    'a second call on the same run gives zero counts'
);
SELECT is(
    :'unknown'::jsonb,
    '{"status": "SUCCESS", "promoted_count": 0, "duplicate_count": 0, "failed_count": 0,
      "details": {"promoted": [], "duplicates": [], "failed": []}}'::jsonb,
    'an unknown run gives zero counts'
);
SELECT is((SELECT jsonb_agg(to_jsonb(s) ORDER BY s.staging_id) FROM postings_staging AS s), :'staging_snapshot'::jsonb,
          'the second call changed no staged row (failed rows are not re-judged)');
SELECT is((SELECT jsonb_agg(to_jsonb(p) ORDER BY p.posting_id) FROM postings AS p), :'postings_snapshot'::jsonb,
          'the second call changed no posting');

-- ---------------------------------------------------------------------------
-- The ledger: every staged row is pending, promoted, duplicate, updated, failed
-- or rolled back (none is updated or rolled back here).
-- ---------------------------------------------------------------------------
SELECT results_eq(
    format($$SELECT * FROM pgstaging.run_status(%s) WHERE table_name = 'postings'$$, :run1),
    $$VALUES ('postings'::name, 35::bigint, 0::bigint, 11::bigint, 4::bigint, 0::bigint, 20::bigint, 0::bigint, 0::bigint)$$,
    'ledger run1: 35 staged = 0 pending + 11 promoted + 4 duplicate + 20 failed'
);
SELECT results_eq(
    format($$SELECT * FROM pgstaging.run_status(%s) WHERE table_name = 'postings'$$, :run2),
    $$VALUES ('postings'::name, 2::bigint, 2::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint)$$,
    'ledger run2: 2 staged, both pending'
);
SELECT results_eq(
    format($$SELECT * FROM pgstaging.run_status(%s) WHERE table_name = 'postings'$$, :unknown_run),
    $$VALUES ('postings'::name, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint)$$,
    'ledger of an unknown run: all zero'
);
SELECT results_eq(
    format($$SELECT staging_id, validation_errors, raw_data FROM pgstaging.run_failures('postings', %s)$$, :run1),
    format($$SELECT s.staging_id, s.validation_errors, s.raw_data FROM postings_staging AS s
             WHERE s.workflow_run_id = %s AND s.outcome = 'failed' ORDER BY s.staging_id$$, :run1),
    'run_failures lists the failed rows with their reasons and raw data'
);
SELECT is(
    (SELECT count(*) FROM pgstaging.run_failures('postings', :run1)), 20::bigint,
    'run_failures lists all 20'
);

-- Rows staged into run1 after its promotion: pending, then promoted.
SELECT set_config('role', :'script', true) AS _role \gset
INSERT INTO postings_staging (workflow_run_id, actor_id, interaction_id, raw_data) VALUES
    (:run1, :actor, 1040, '{"job_id": "E-1", "title": "late"}'),
    (:run1, :actor, 1041, '{"job_id": "A-2", "title": "late duplicate"}');
RESET ROLE;

SELECT results_eq(
    format($$SELECT * FROM pgstaging.run_status(%s) WHERE table_name = 'postings'$$, :run1),
    $$VALUES ('postings'::name, 37::bigint, 2::bigint, 11::bigint, 4::bigint, 0::bigint, 20::bigint, 0::bigint, 0::bigint)$$,
    'ledger run1 with two late rows: 37 staged = 2 pending + 11 + 4 + 20'
);

SELECT set_config('role', :'validator', true) AS _role \gset
SELECT promote_postings_staging(:run2, true) AS r2_dry \gset
RESET ROLE;

SELECT is(
    :'r2_dry'::jsonb - 'details',
    '{"status": "SUCCESS", "promoted_count": 1, "duplicate_count": 1, "failed_count": 0}'::jsonb,
    'dry run of run2: the counts a real run would give'
);
SELECT is(
    :'r2_dry'::jsonb -> 'details' -> 'duplicates',
    (SELECT summary -> 'details' -> 'duplicates' FROM expected_summary WHERE batch = 'run2'),
    'dry run of run2: the duplicate and the posting it would link'
);
SELECT results_eq(
    format($$SELECT (SELECT count(*) FROM postings_staging WHERE workflow_run_id = %1$s AND outcome IS NULL),
                    (SELECT count(*) FROM postings WHERE external_job_id = 'D-1'),
                    (SELECT count(*) FROM pgstaging.promotion_log WHERE workflow_run_id = %1$s)$$, :run2),
    $$VALUES (2::bigint, 0::bigint, 0::bigint)$$,
    'dry run of run2: nothing kept (rows pending, no posting, no log row)'
);

SELECT set_config('role', :'validator', true) AS _role \gset
SELECT promote_postings_staging(:run1) AS late \gset
SELECT pgstaging.promote('postings', :run2) AS r2 \gset
SELECT throws_ok(format('SELECT pgstaging.promote(''no_such_table'', %s)', :run2), '42P01', NULL,
                 'pgstaging.promote: an unknown table is 42P01');
RESET ROLE;

SELECT is(:'late'::jsonb, (SELECT summary FROM expected_summary WHERE batch = 'late'),
          'the late rows: one promoted, one duplicate of a posting from the first call');
SELECT is(:'r2'::jsonb, (SELECT summary FROM expected_summary WHERE batch = 'run2'),
          'run2 via pgstaging.promote: one promoted, one cross-run duplicate');
SELECT is(:'r2'::jsonb -> 'duplicate_count', '1'::jsonb, 'run2: duplicate_count is 1');
SELECT results_eq(
    format($$SELECT * FROM pgstaging.run_status(%s) WHERE table_name = 'postings'$$, :run1),
    $$VALUES ('postings'::name, 37::bigint, 0::bigint, 12::bigint, 5::bigint, 0::bigint, 20::bigint, 0::bigint, 0::bigint)$$,
    'ledger run1 after the late promotion: 37 = 0 + 12 + 5 + 20'
);
SELECT is_empty(
    format($$SELECT r.workflow_run_id FROM (VALUES (%s), (%s), (%s), (%s)) AS r (workflow_run_id),
                    pgstaging.run_status(r.workflow_run_id) AS l
             WHERE l.staged <> l.pending + l.promoted + l.duplicate + l.failed$$, :run0, :run1, :run2, :unknown_run),
    'ledger invariant: staged = pending + promoted + duplicate + failed for every run'
);
SELECT is(
    (SELECT count(*) FROM postings) - :postings_before, 14::bigint,
    'in all, 14 postings: one per distinct valid key'
);

-- Retry: failed rows are judged again (same rules: same verdicts), and the
-- verdicts they replace are kept.
SELECT set_config('role', :'validator', true) AS _role \gset
SELECT retry_postings_staging(:run1) AS retried \gset
RESET ROLE;
SELECT is(
    :'retried'::jsonb - 'details',
    '{"status": "SUCCESS", "promoted_count": 0, "duplicate_count": 0, "failed_count": 20}'::jsonb,
    'retry of run1: the 20 failed rows fail again, nothing else is touched'
);
SELECT is(:'retried'::jsonb -> 'details' -> 'failed', :'r1'::jsonb -> 'details' -> 'failed',
          'retry of run1: with the same errors');
SELECT set_eq(
    format($$SELECT v.staging_id, v.outcome, v.validation_errors FROM pgstaging.superseded_verdicts AS v
             JOIN postings_staging AS s USING (staging_id) WHERE v.table_name = 'postings' AND s.workflow_run_id = %s$$, :run1),
    format($$SELECT staging_id, outcome, validation_errors FROM postings_staging
             WHERE workflow_run_id = %s AND outcome = 'failed'$$, :run1),
    'retry of run1: the replaced verdicts are kept in superseded_verdicts'
);

-- Unpromote run2: its posting goes, its staged row is kept as rolled back.
SELECT set_config('role', :'validator', true) AS _role \gset
SELECT unpromote_postings_staging(:run2, 'pgtap') AS unpromoted \gset
RESET ROLE;
SELECT results_eq(
    format($$SELECT (%2$L::jsonb ->> 'deleted_count')::bigint,
                    (SELECT count(*) FROM postings WHERE external_job_id = 'D-1'),
                    (SELECT outcome FROM postings_staging WHERE interaction_id = 2002 AND workflow_run_id = %1$s),
                    (SELECT outcome FROM postings_staging WHERE interaction_id = 2001 AND workflow_run_id = %1$s)$$,
           :run2, :'unpromoted'),
    $$VALUES (1::bigint, 0::bigint, 'rolled_back', 'duplicate')$$,
    'unpromote run2: D-1 deleted, its row rolled back, the duplicate of run1''s posting kept'
);
SELECT is_empty(
    format($$SELECT l.* FROM pgstaging.run_status(%s) AS l
             WHERE l.staged <> l.pending + l.promoted + l.duplicate + l.updated + l.failed + l.rolled_back$$, :run2),
    'ledger invariant after unpromote: every staged row of run2 is counted once'
);

SELECT * FROM finish();
ROLLBACK;
