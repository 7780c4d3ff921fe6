-- Data set p_prefix as JSON documents, for the client-side benchmarks
-- (fetcher, stage, stage_copy); read through a server-side cursor.
SELECT bench.posting_document(%(prefix)s, g.i) AS document
FROM pg_catalog.generate_series(1, %(rows)s::bigint) AS g (i)
ORDER BY g.i
