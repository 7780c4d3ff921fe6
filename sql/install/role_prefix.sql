-- The group role prefix asked for (empty: the default, or what this
-- database already uses); read by roles.sql in the same transaction.
SELECT pg_catalog.set_config('pgstaging.role_prefix', %(role_prefix)s, true)
