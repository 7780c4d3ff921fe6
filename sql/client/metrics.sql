SELECT m.name, m.labels, m.value FROM pgstaging.metrics() AS m
