SELECT c.spec FROM pg_temp.pgstaging_captured_specs AS c ORDER BY c.n
