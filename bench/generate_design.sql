-- The design validator's sample: the same generator, into the design's table.
INSERT INTO bench_design.postings_staging (workflow_run_id, actor_id, raw_data)
SELECT %(workflow_run_id)s, %(actor_id)s, bench.posting_document(%(prefix)s, g.i)
FROM pg_catalog.generate_series(1, %(rows)s::bigint) AS g (i)
ORDER BY g.i
