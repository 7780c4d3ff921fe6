SELECT pgstaging.promote_batch(%(table)s, %(batch_size)s) AS summary
