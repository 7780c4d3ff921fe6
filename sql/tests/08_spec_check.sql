-- pgstaging.normalize_spec: every key of a spec is checked against the spec
-- format (sql/spec.schema.json, loaded at install), refused with 22023
-- naming its path and the nearest known key; a "json_schema" compiles to
-- native fields with JSON Schema's meaning.
BEGIN;
SELECT plan(29);

CREATE TEMP TABLE base AS
SELECT '{"table": "t", "id_column": "t_id", "natural_key": ["a"],
         "fields": [{"column": "a", "required": true}, {"column": "b"}, {"column": "c"}]}'::jsonb AS spec;

SELECT ok(
    (SELECT count(*) FROM pgstaging.spec_format WHERE name = 'spec.schema.json'
        AND document ->> '$schema' = 'https://json-schema.org/draft/2020-12/schema') = 1,
    'the spec format file is loaded at install'
);

-- Paths and the nearest known key.
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec(jsonb_set(spec, '{fields,2,max_lenght}', '3')) FROM base$$,
    '22023', 'pgstaging: unknown key fields[2].max_lenght; did you mean "max_length"?',
    'a misspelt field key: its path and the nearest key'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec(jsonb_set(spec, '{fields,0,normalise}', '["lower"]')) FROM base$$,
    '22023', 'pgstaging: unknown key fields[0].normalise; did you mean "normalize"?',
    'the issue''s example: normalise'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec(spec || '{"on_duplicat": "skip"}') FROM base$$,
    '22023', 'pgstaging: unknown key on_duplicat; did you mean "on_duplicate"?',
    'a misspelt top-level key'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec(jsonb_set(spec, '{fields,1,references}',
        '{"table": "x", "id": "x_id", "bye": {}}')) FROM base$$,
    '22023', 'pgstaging: unknown key fields[1].references.bye; did you mean "by"?',
    'nested objects are checked too'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec(spec || '{"rules": [{"field": "a", "error": "e"}]}') FROM base$$,
    '22023', 'pgstaging: rules[0] needs "check"',
    'a rule without its check'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec(spec || '{"rules": [{"field": "a", "error": "e", "check": "true", "chek": "x"}]}') FROM base$$,
    '22023', 'pgstaging: unknown key rules[0].chek; did you mean "check"?',
    'a misspelt rule key'
);

-- Wrong JSON types and values.
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec('[]')$$,
    '22023', 'pgstaging: the spec must be an object, not an array',
    'a spec that is not an object'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec(jsonb_set(spec, '{fields,0,required}', '"yes"')) FROM base$$,
    '22023', 'pgstaging: fields[0].required must be a boolean, not a string',
    'a string where a boolean belongs'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec(jsonb_set(spec, '{fields,1,max_length}', '2.5')) FROM base$$,
    '22023', 'pgstaging: fields[1].max_length must be an integer, not a number',
    'a fraction where an integer belongs'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec(spec || '{"on_duplicate": "updte"}') FROM base$$,
    '22023', 'pgstaging: on_duplicate is "updte", which is not one of: "skip", "update"; did you mean "update"?',
    'a value outside an enum: the nearest value'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec(jsonb_set(spec, '{fields,2,normalize}', '["trim", "lowr"]')) FROM base$$,
    '22023', 'pgstaging: fields[2].normalize[1] is "lowr", which is not one of: "trim", "lower", "upper", "collapse_whitespace"; did you mean "lower"?',
    'an unknown normalizer, inside an array'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec(jsonb_set(spec, '{fields,2,type}', '"txt"')) FROM base$$,
    '22023', NULL,
    'an unknown type'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec(spec - 'id_column') FROM base$$,
    '22023', 'pgstaging: the spec needs "id_column"',
    'a missing required key'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec(jsonb_set(spec, '{fields,1,pattern}', '"(unclosed"')) FROM base$$,
    '22023', NULL,
    'a bad pattern is refused at registration'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec(spec - 'fields') FROM base$$,
    '22023', 'pgstaging: a spec needs "fields" or "json_schema"',
    'no fields at all'
);

-- A valid native spec comes back as given; so do the packaged ones.
SELECT is(pgstaging.normalize_spec(spec || '{"gate": {"anything": 1}}'), spec || '{"gate": {"anything": 1}}', 'a native spec is returned unchanged (a gate object is accepted)')
FROM base;
SELECT is(
    (SELECT count(*)::integer FROM pgstaging.staged_tables WHERE pgstaging.normalize_spec(spec) = spec),
    (SELECT count(*)::integer FROM pgstaging.staged_tables),
    'every registered spec passes the check unchanged'
);

-- JSON Schema in.
SELECT is(
    pgstaging.normalize_spec('{"table": "t", "id_column": "t_id", "natural_key": ["a"],
        "json_schema": {"type": "object", "required": ["a"], "properties": {
            "a": {"type": "string", "maxLength": 5.0, "x-pgstaging": {"normalize": ["trim"]}},
            "n": {"type": ["integer", "null"], "exclusiveMinimum": 0, "default": 1.0, "enum": [1, 2.0, "x", null]},
            "d": {"type": "string", "format": "date", "title": "day", "x-pgstaging": {"column": "day"}}}}}') -> 'fields',
    '[{"column": "a", "required": true, "type": "text", "convert": false, "allow_empty": true, "normalize": ["trim"],
       "max_length": 5, "nullable": false},
      {"column": "day", "source": "d", "type": "date", "convert": false, "allow_empty": true, "normalize": [], "nullable": false},
      {"column": "n", "type": "bigint", "convert": false, "allow_empty": true, "normalize": [],
       "exclusive_min": 0, "one_of": [1, 2], "nullable": true, "default": 1}]'::jsonb,
    'a JSON Schema compiles to native fields with the options of its meaning'
);
SELECT is(
    pgstaging.json_schema_fields('{"properties": {"d": {"type": "string", "format": "date", "x-pgstaging": {"column": "day"}}}}') -> 0,
    '{"column": "day", "source": "d", "type": "date", "convert": false, "allow_empty": true, "normalize": [], "nullable": false}'::jsonb,
    'x-pgstaging column: the property name stays the raw key (and the field in errors)'
);
SELECT is(
    pgstaging.json_schema_fields('{"required": ["posting"], "properties": {"posting": {"type": "string",
        "x-pgstaging": {"column": "posting_id", "references": {"table": "postings", "id": "posting_id", "by": {"job_id": "external_job_id"}}}}}}'),
    '[{"column": "posting_id", "source": "posting", "required": true,
       "references": {"table": "postings", "id": "posting_id", "by": {"job_id": "external_job_id"}}}]'::jsonb,
    'x-pgstaging references: a native reference field'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec('{"table": "t", "id_column": "t_id", "natural_key": ["a"],
        "json_schema": {"properties": {"a": {"type": "string", "multipleOf": 2}}}}')$$,
    '22023', NULL,
    'an unsupported keyword is refused, not ignored'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec('{"table": "t", "id_column": "t_id", "natural_key": ["a"],
        "json_schema": {"properties": {"a": {"type": "string", "maxLenght": 2}}}}')$$,
    '22023', 'pgstaging: unknown key json_schema.properties.a.maxLenght; did you mean "maxLength"?',
    'a misspelt JSON Schema keyword: its path and the nearest keyword'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec('{"table": "t", "id_column": "t_id", "natural_key": ["a"],
        "json_schema": {"properties": {"a": {"maxLength": 2}}}}')$$,
    '22023', 'pgstaging: json_schema.properties.a needs "type"',
    'a property without a type'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec('{"table": "t", "id_column": "t_id", "natural_key": ["a"],
        "json_schema": {"properties": {"a": {"type": ["string", "integer"]}}}}')$$,
    '22023', NULL,
    'two non-null types are refused'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec('{"table": "t", "id_column": "t_id", "natural_key": ["a"], "fields": [],
        "json_schema": {"properties": {"a": {"type": "string"}}}}')$$,
    '22023', 'pgstaging: a spec gives "fields" or "json_schema", not both',
    'fields that differ from the compiled ones'
);
SELECT throws_ok(
    $$SELECT pgstaging.normalize_spec('{"table": "t", "id_column": "t_id", "natural_key": ["a"],
        "json_schema": {"required": ["a"], "properties": {"a": {"type": ["string", "null"]}}}}')$$,
    '22023', NULL,
    'a required property that allows null is refused (its column is NOT NULL)'
);

-- Building blocks.
SELECT is(pgstaging.edit_distance('kitten', 'sitting'), 3, 'edit distance');
SELECT is(
    ARRAY(SELECT pgstaging.is_rfc3339_timestamp(v) FROM unnest(ARRAY[
        '1963-06-19T08:30:06.283185Z', '1963-06-19t08:30:06z', '1998-12-31T15:59:60.123-08:00',
        '1998-12-31T23:58:60Z', '1963-06-19 08:30:06Z', '1985-04-12T23:20:50+01', '2020-02-30T00:00:00Z']) AS v),
    ARRAY[true, true, true, false, false, false, false],
    'RFC 3339 date-time: separators, leap seconds only at 23:59:60 UTC, offsets'
);

SELECT * FROM finish();
ROLLBACK;
