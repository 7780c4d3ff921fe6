-- A throwaway cluster's owner: a database owner with CREATEROLE and no
-- superuser, as on managed PostgreSQL.
CREATE ROLE pgstaging_owner LOGIN CREATEROLE
