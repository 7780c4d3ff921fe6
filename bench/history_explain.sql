EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT h.* FROM pgstaging.postings_health AS h
