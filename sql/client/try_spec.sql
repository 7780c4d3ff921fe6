SELECT pgstaging.try_spec(%(spec)s::jsonb, %(runs)s::integer []) AS report
