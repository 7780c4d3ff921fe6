SELECT h.pending_count
FROM pgstaging.health(%(table)s) AS h
