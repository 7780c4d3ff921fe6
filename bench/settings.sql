-- The server and the settings that matter to these numbers, for the report.
SELECT
    pg_catalog.current_setting('server_version') AS postgresql,
    pg_catalog.current_setting('fsync') AS fsync,
    pg_catalog.current_setting('synchronous_commit') AS synchronous_commit,
    pg_catalog.current_setting('shared_buffers') AS shared_buffers,
    pg_catalog.current_setting('work_mem') AS work_mem,
    pg_catalog.current_setting('max_wal_size') AS max_wal_size
