INSERT INTO pgstaging.installs (version, checksum, target_schema)
VALUES (%(version)s, %(checksum)s, %(target_schema)s)
RETURNING install_id
