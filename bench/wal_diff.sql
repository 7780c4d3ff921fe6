SELECT pg_catalog.pg_wal_lsn_diff(%(after)s::pg_lsn, %(before)s::pg_lsn)::bigint AS bytes
