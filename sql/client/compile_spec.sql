SELECT c.step, c.statement FROM pgstaging.compile_spec(%(spec)s::jsonb) AS c
