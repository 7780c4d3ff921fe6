SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.actor_id), '[]') AS actors FROM pgstaging.actor_list() AS a
