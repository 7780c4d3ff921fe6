-- The package's own machinery lives in schema pgstaging; data tables and
-- promote_* functions live in the target schema (the installer's search_path).
CREATE SCHEMA IF NOT EXISTS pgstaging;

COMMENT ON SCHEMA pgstaging IS 'pgstaging machinery: guards, rules, registry, install ledger';

-- One row per install or upgrade that changed something.
CREATE TABLE IF NOT EXISTS pgstaging.installs (
    install_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version text NOT NULL,
    checksum text NOT NULL,
    target_schema name NOT NULL,
    installed_by name NOT NULL DEFAULT session_user,
    installed_at timestamptz NOT NULL DEFAULT now()
);
