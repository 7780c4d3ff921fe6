-- Structure: schemas, tables, keys, indexes on foreign keys, triggers.
BEGIN;
SELECT plan(14);

SELECT has_schema('pgstaging');
SELECT has_table('public', 'postings_staging', 'postings_staging exists');
SELECT has_table('public', 'postings', 'postings exists');
SELECT has_table('public', 'workflow_runs', 'workflow_runs exists');
SELECT has_table('public', 'actors', 'actors exists');
SELECT col_is_pk('public', 'postings_staging', 'staging_id', 'staging_id is the primary key');
SELECT col_is_unique('public', 'postings', 'external_job_id', 'the natural key is unique');
SELECT fk_ok('public', 'postings', 'created_by_staging_id', 'public', 'postings_staging', 'staging_id');
SELECT has_index('public', 'postings', 'postings_created_by_staging_idx', 'created_by_staging_id is indexed');
SELECT has_index('public', 'postings', 'postings_updated_by_staging_idx', 'updated_by_staging_id is indexed');
SELECT has_index('public', 'postings_staging', 'postings_staging_run_idx', 'workflow_run_id is indexed');
SELECT has_trigger('public', 'postings', 'postings_guard_writes', 'postings has its write guard');
SELECT is_definer('public', 'promote_postings_staging', ARRAY['integer', 'boolean', 'bigint'], 'promote runs as its owner');
SELECT ok(
    (SELECT bool_and(cfg LIKE 'search_path=%pg_temp')
     FROM pg_proc AS p, unnest(p.proconfig) AS cfg
     WHERE p.prosecdef AND cfg LIKE 'search_path=%'
       AND p.pronamespace IN ('public'::regnamespace, 'pgstaging'::regnamespace))
    AND NOT EXISTS (
        SELECT 1 FROM pg_proc AS p
        WHERE p.prosecdef AND p.pronamespace IN ('public'::regnamespace, 'pgstaging'::regnamespace)
          AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) AS cfg WHERE cfg LIKE 'search_path=%')
    ),
    'every SECURITY DEFINER function pins a search_path ending in pg_temp'
);

SELECT * FROM finish();
ROLLBACK;
