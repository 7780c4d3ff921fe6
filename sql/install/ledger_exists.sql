SELECT pg_catalog.to_regclass('pgstaging.installs') IS NOT NULL AS ledger_exists
