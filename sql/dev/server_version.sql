-- The server's version, for the throwaway cluster's banner.
SELECT current_setting('server_version') AS server_version;
