-- Guard modes (issue 14): per staged table, enforce (the default: only
-- pgstaging writes production) or observe (direct writes succeed and are
-- recorded), and whether pgstaging adopted an existing table. Written only
-- by pgstaging.set_guard and pgstaging.check_adoption.
CREATE TABLE IF NOT EXISTS pgstaging.guard_modes (
    table_name name PRIMARY KEY,
    mode text NOT NULL CHECK (mode IN ('observe', 'enforce')),
    -- The production table existed, with its rows and grants, before
    -- pgstaging registered it: grant code keeps the user's grants.
    adopted boolean NOT NULL DEFAULT false,
    changed_by name NOT NULL DEFAULT session_user,
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- One row per direct (non-pgstaging) statement on an observed production table.
CREATE TABLE IF NOT EXISTS pgstaging.direct_writes (
    write_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name name NOT NULL,
    operation text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    session_user_name name NOT NULL,
    application_name text,
    row_count bigint NOT NULL,
    written_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id()
);

CREATE INDEX IF NOT EXISTS direct_writes_table_time_idx ON pgstaging.direct_writes (table_name, written_at);

-- Production rows a direct UPDATE or DELETE changed: unpromote refuses to
-- restore or delete them (the change would be lost).
CREATE TABLE IF NOT EXISTS pgstaging.direct_write_rows (
    write_id bigint NOT NULL REFERENCES pgstaging.direct_writes (write_id),
    table_name name NOT NULL,
    production_id bigint NOT NULL,
    PRIMARY KEY (table_name, production_id, write_id)
);

CREATE INDEX IF NOT EXISTS direct_write_rows_write_idx ON pgstaging.direct_write_rows (write_id);

-- Statements pgstaging itself is writing on an observed table: the write
-- guard (running as the caller, who is then the owner) adds one before the
-- statement, the observing trigger takes it away after. A direct writer
-- cannot add one: only the owner may write here.
CREATE TABLE IF NOT EXISTS pgstaging.guard_passes (
    transaction_id xid8 NOT NULL,
    relid oid NOT NULL,
    operation text NOT NULL,
    pending integer NOT NULL,
    PRIMARY KEY (transaction_id, relid, operation)
);

-- Their allow-list (readers read, nobody writes) is in grants.sql.
