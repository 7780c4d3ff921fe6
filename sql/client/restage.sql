SELECT pgstaging.restage(%(table)s, %(staging_id)s, %(raw_data)s::jsonb) AS staging_id
