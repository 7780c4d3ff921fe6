SELECT pgstaging.add_actor(%(actor)s, %(login)s) AS actor_id
