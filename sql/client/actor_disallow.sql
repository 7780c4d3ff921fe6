SELECT pgstaging.disallow_actor(%(actor)s, %(table)s, %(right)s, %(fields)s::text []) IS NULL AS done
