-- The last recorded install, if pgstaging was ever installed here.
SELECT i.version, i.checksum, i.target_schema
FROM pgstaging.installs AS i
ORDER BY i.install_id DESC
LIMIT 1
