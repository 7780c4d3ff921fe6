-- Session: what SET work_mem on the promote function would give.
SET work_mem = '64MB'
