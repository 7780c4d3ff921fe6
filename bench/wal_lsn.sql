-- The current WAL position, to count the bytes a step writes (steadier than time).
SELECT pg_catalog.pg_current_wal_lsn()::text AS lsn
