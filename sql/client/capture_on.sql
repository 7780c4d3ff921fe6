SELECT pg_catalog.set_config('pgstaging.capture_specs', 'on', true)
