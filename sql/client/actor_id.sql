SELECT a.actor_id FROM actors AS a WHERE a.actor_name = %(actor_name)s
