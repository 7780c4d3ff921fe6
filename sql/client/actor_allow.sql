SELECT pgstaging.allow_actor(%(actor)s, %(table)s, %(right_name)s, %(fields)s::text []) IS NULL AS done
