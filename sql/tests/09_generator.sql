-- The generator's steps on their own: derived names are checked (the
-- longest accepted table name keeps all its guards; one byte more is
-- refused), and the pure builders write what the statements rely on.
BEGIN;
SELECT plan(14);

CREATE TEMP TABLE longest AS
SELECT 63 - max(octet_length(n.derived_name) - 1) AS bytes
FROM pgstaging.spec_derived_names('{"table": "x", "fields": []}') AS n;

SELECT is((SELECT bytes FROM longest), 36, 'the longest accepted table name is 36 bytes');

-- At the limit: registered, with five distinct guard triggers on staging.
SELECT lives_ok(
    format($$SELECT pgstaging.register_staged_table('{"table": "%s", "id_column": "item_id", "natural_key": ["code"],
              "fields": [{"column": "code", "required": true}]}')$$, repeat('a', (SELECT bytes FROM longest))),
    'a spec whose table name is exactly at the limit registers'
);
SELECT is(
    (SELECT count(DISTINCT t.tgname)::integer FROM pg_catalog.pg_trigger AS t
     WHERE t.tgrelid = to_regclass(repeat('a', (SELECT bytes FROM longest)) || '_staging') AND NOT t.tgisinternal
       AND t.tgname::text IN (SELECT n.derived_name FROM pgstaging.spec_derived_names(
           jsonb_build_object('table', repeat('a', (SELECT bytes FROM longest)), 'fields', '[]'::jsonb)) AS n
           WHERE n.kind = 'trigger')),
    5,
    'all five staging guards exist, none replaced by another'
);
SELECT is(
    (SELECT max(octet_length(t.tgname))::integer FROM pg_catalog.pg_trigger AS t
     WHERE t.tgrelid = to_regclass(repeat('a', (SELECT bytes FROM longest)) || '_staging') AND NOT t.tgisinternal),
    63,
    'the longest trigger name is 63 bytes, not cut'
);

-- One byte more: refused before anything is created, naming the name.
SELECT throws_like(
    format($$SELECT pgstaging.register_staged_table('{"table": "%s", "id_column": "item_id", "natural_key": ["code"],
              "fields": [{"column": "code", "required": true}]}')$$, repeat('b', (SELECT bytes FROM longest) + 1)),
    '%would be 64 bytes%',
    'one byte over the limit is refused'
);
SELECT throws_ok(
    format($$SELECT pgstaging.check_spec_names('{"table": "%s", "fields": []}')$$, repeat('b', (SELECT bytes FROM longest) + 1)),
    '22023', NULL, 'the refusal is 22023'
);
SELECT is(to_regclass(repeat('b', (SELECT bytes FROM longest) + 1)), NULL, 'and nothing was created');
SELECT throws_ok(
    $$SELECT pgstaging.check_spec_names('{"table": "t", "fields": [{"column": "a_reference_column_name_that_is_long_enough_to_push_its_fkey",
                                          "references": {"table": "postings"}}]}')$$,
    '22023', NULL, 'a long reference column is refused too (its foreign key name)'
);

-- The pure builders.
SELECT is(pgstaging.statement_parameters(), '(integer, text, integer, bigint[], integer)', 'the parameter contract, once');
SELECT matches(pgstaging.build_filter_sql('patch'), 's\.operation = ''patch''', 'the filter selects by operation');
SELECT matches(
    pgstaging.build_summary_sql('posting_id', false),
    '''promoted_count''.*''duplicate_count''.*''failed_count''',
    'the summary has the design''s counts'
);
SELECT unalike(pgstaging.build_summary_sql('posting_id', false), '%updated_count%', 'skip tables report no updated_count');
SELECT alike(pgstaging.build_summary_sql('posting_id', true), '%''updated_count'', c.updated%', 'patch summaries do');
SELECT doesnt_match(
    (SELECT string_agg(s.statement, E'\n') FROM pgstaging.spec_statements(
        (SELECT t.spec FROM pgstaging.staged_tables AS t WHERE t.table_name = 'postings'), 'public') AS s),
    '"[a-z]+:[a-z_:]+"',
    'no internal name needs quoting'
);

SELECT * FROM finish();
ROLLBACK;
