-- Installs take locks on live tables: wait a bounded time, never forever.
SELECT pg_catalog.set_config('lock_timeout', %(lock_timeout)s, true)
