-- Needs INSERT on actors: the owner registers actors.
INSERT INTO actors AS a (actor_name)
VALUES (%(actor_name)s)
ON CONFLICT (actor_name) DO UPDATE SET actor_name = excluded.actor_name
RETURNING a.actor_id
