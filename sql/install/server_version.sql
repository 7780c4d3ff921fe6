-- Is this server supported? 15 is the oldest: before it, public grants CREATE
-- to PUBLIC, and 13 lacks SQL-standard function bodies and CREATE OR REPLACE
-- TRIGGER (README, "Supported PostgreSQL versions").
SELECT
    current_setting('server_version_num')::integer >= 150000 AS supported,
    '15' AS oldest_supported,
    current_setting('server_version') AS server_version;
