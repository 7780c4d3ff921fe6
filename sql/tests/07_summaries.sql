-- The summary of a promotion is built from two statements' summaries
-- (pgstaging.merge_summaries): counts add up exactly, details lists merge
-- in staging_id order, and the cap holds with details_truncated set.
BEGIN;
SELECT plan(8);

SELECT is(
    pgstaging.merge_summaries(
        '{"status": "SUCCESS", "promoted_count": 2, "duplicate_count": 0, "failed_count": 0,
          "details": {"promoted": [{"staging_id": 1, "posting_id": 10}, {"staging_id": 4, "posting_id": 11}],
                      "duplicates": [], "failed": []}}',
        '{"status": "SUCCESS", "promoted_count": 0, "duplicate_count": 1, "failed_count": 1,
          "details": {"promoted": [], "duplicates": [{"staging_id": 2, "posting_id": 10}],
                      "failed": [{"staging_id": 3, "errors": [{"field": "title", "error": "missing"}]}]}}',
        10),
    '{"status": "SUCCESS", "promoted_count": 2, "duplicate_count": 1, "failed_count": 1,
      "details": {"promoted": [{"staging_id": 1, "posting_id": 10}, {"staging_id": 4, "posting_id": 11}],
                  "duplicates": [{"staging_id": 2, "posting_id": 10}],
                  "failed": [{"staging_id": 3, "errors": [{"field": "title", "error": "missing"}]}]}}'::jsonb,
    'lists one side left empty are taken as they are; counts add'
);

SELECT is(
    pgstaging.merge_summaries(
        '{"promoted_count": 2, "details": {"promoted": [{"staging_id": 5}, {"staging_id": 9}]}}',
        '{"promoted_count": 2, "details": {"promoted": [{"staging_id": 2}, {"staging_id": 7}]}}',
        10) -> 'details' -> 'promoted',
    '[{"staging_id": 2}, {"staging_id": 5}, {"staging_id": 7}, {"staging_id": 9}]'::jsonb,
    'a list both sides have is merged in staging_id order (as numbers)'
);

SELECT is(
    pgstaging.merge_summaries(
        '{"promoted_count": 3, "details": {"promoted": [{"staging_id": 5}, {"staging_id": 9}, {"staging_id": 10}]}}',
        '{"promoted_count": 2, "details": {"promoted": [{"staging_id": 2}, {"staging_id": 7}]}}',
        3),
    '{"promoted_count": 5, "details": {"promoted": [{"staging_id": 2}, {"staging_id": 5}, {"staging_id": 7}]},
      "details_truncated": true}'::jsonb,
    'the merged list is capped again, keeping the lowest staging_ids, and marked truncated'
);

SELECT is(
    pgstaging.merge_summaries(
        '{"promoted_count": 2, "details": {"promoted": [{"staging_id": 5}]}}',
        '{"promoted_count": 1, "details": {"promoted": [{"staging_id": 2}]}}',
        2),
    '{"promoted_count": 3, "details": {"promoted": [{"staging_id": 2}, {"staging_id": 5}]}}'::jsonb,
    'a merge that fits the cap is not marked truncated'
);

SELECT is(
    pgstaging.merge_summaries(
        '{"failed_count": 7, "details": {"failed": [{"staging_id": 1}]}, "details_truncated": true}',
        '{"failed_count": 0, "details": {"failed": []}}',
        1),
    '{"failed_count": 7, "details": {"failed": [{"staging_id": 1}]}, "details_truncated": true}'::jsonb,
    'truncation by either statement is kept'
);

SELECT is(
    pgstaging.merge_summaries(
        '{"status": "SUCCESS", "promoted_count": 1, "updated_count": 0, "details": {"promoted": [], "updated": []}}',
        '{"status": "SUCCESS", "promoted_count": 0, "updated_count": 4, "details": {"promoted": [], "updated": []}}',
        10),
    '{"status": "SUCCESS", "promoted_count": 1, "updated_count": 4, "details": {"promoted": [], "updated": []}}'::jsonb,
    'every *_count adds up, whatever the policy''s lists'
);

SELECT is(
    pgstaging.merge_summaries('{"status": "SUCCESS"}', '{"status": "SUCCESS"}', 10),
    '{"status": "SUCCESS", "details": {}}'::jsonb,
    'summaries without counts or lists merge to an empty details object'
);

SELECT is(
    (SELECT count(*) FROM pg_catalog.pg_proc AS p
     WHERE p.oid = 'pgstaging.merge_summaries(jsonb, jsonb, integer)'::regprocedure
       AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp']),
    1::bigint,
    'merge_summaries pins its search_path'
);

SELECT * FROM finish();
ROLLBACK;
