-- The names the demo prints: this install's script and validator roles.
SELECT pgstaging.group_role('script') AS script, pgstaging.group_role('validator') AS validator
