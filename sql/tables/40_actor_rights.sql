-- Actors bound to the logins that run them, and what each actor may do.
-- Written only by the owner's pgstaging.add_actor / allow_actor /
-- disallow_actor; read by the staging rights guard.
CREATE TABLE IF NOT EXISTS pgstaging.actor_logins (
    actor_id integer NOT NULL REFERENCES actors (actor_id),
    login name NOT NULL,
    added_by name NOT NULL DEFAULT session_user,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, login)
);

-- The guard looks actors up by login.
CREATE INDEX IF NOT EXISTS actor_logins_login_idx ON pgstaging.actor_logins (login);

-- One row per (actor, table, right); table_name is NULL for 'start'.
-- fields: for 'patch', the fields the actor may change.
CREATE TABLE IF NOT EXISTS pgstaging.actor_rights (
    actor_id integer NOT NULL REFERENCES actors (actor_id),
    table_name name,
    right_name text NOT NULL CHECK (right_name IN ('stage', 'patch', 'read', 'start')),
    fields text [],
    granted_by name NOT NULL DEFAULT session_user,
    granted_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT actor_rights_start_has_no_table CHECK ((right_name = 'start') = (table_name IS NULL)),
    CONSTRAINT actor_rights_key UNIQUE NULLS NOT DISTINCT (actor_id, table_name, right_name)
);

-- One-time data migrations, each recorded so it runs once.
CREATE TABLE IF NOT EXISTS pgstaging.data_migrations (
    migration text PRIMARY KEY,
    applied_by name NOT NULL DEFAULT session_user,
    applied_at timestamptz NOT NULL DEFAULT now()
);
