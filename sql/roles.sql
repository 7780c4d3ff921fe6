-- Group roles (NOLOGIN), named per install: roles are cluster-wide, and a
-- cluster holds many databases with their own owners. The names derive from
-- a prefix chosen at the first install (pgstaging install --role-prefix P;
-- default staging_<database>), giving P_script, P_validator, P_reader and
-- P_steward, and are kept in pgstaging.group_roles. An upgrade of a 0.1.0
-- install (a ledger, no role table) keeps staging_script and the others.
-- A login becomes a script actor by
-- GRANT <pgstaging.group_role('script')> TO some_login.
DO $table$
BEGIN
    IF pg_catalog.to_regclass('pgstaging.group_roles') IS NULL THEN
        CREATE TABLE pgstaging.group_roles (
            role_kind text PRIMARY KEY CHECK (role_kind IN ('script', 'validator', 'reader', 'steward')),
            role_name name NOT NULL UNIQUE,
            role_prefix text NOT NULL
        );
        COMMENT ON TABLE pgstaging.group_roles IS 'pgstaging: this install''s group role names';
    END IF;
END
$table$;

-- P_kind, or, when that exceeds 63 bytes, the prefix cut to 40 bytes (on a
-- character boundary) plus 12 hex digits of its md5: distinct prefixes never
-- share a name, and the name is never silently truncated.
CREATE OR REPLACE FUNCTION pgstaging.derive_group_role(p_prefix text, p_kind text)
RETURNS name
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_stem text := p_prefix;
BEGIN
    IF octet_length(p_prefix || '_' || p_kind) <= 63 THEN
        RETURN (p_prefix || '_' || p_kind)::name;
    END IF;
    v_stem := left(v_stem, 40);
    WHILE octet_length(v_stem) > 40 LOOP
        v_stem := left(v_stem, -1);
    END LOOP;
    RETURN (v_stem || '_' || left(md5(p_prefix), 12) || '_' || p_kind)::name;
END
$function$;

-- This install's actual name for a group role: 'script', 'validator',
-- 'reader' or 'steward'. Tests, docs and the demo look names up here.
CREATE OR REPLACE FUNCTION pgstaging.group_role(p_kind text)
RETURNS name
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_name name;
BEGIN
    SELECT g.role_name INTO v_name FROM pgstaging.group_roles AS g WHERE g.role_kind = p_kind;
    IF v_name IS NULL THEN
        RAISE EXCEPTION 'pgstaging: no group role "%"', p_kind
            USING ERRCODE = '22023', HINT = 'One of: script, validator, reader, steward.';
    END IF;
    RETURN v_name;
END
$function$;

-- May the current user grant this role to others (and comment on it)? On
-- 16+ that takes the ADMIN option (superusers have it); on 15 CREATEROLE is
-- enough for any role that is not a superuser.
CREATE OR REPLACE FUNCTION pgstaging.may_administer_role(p_role name)
RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.pg_has_role(current_user, p_role, 'USAGE WITH ADMIN OPTION')
    OR pg_catalog.pg_has_role(current_user, p_role, 'MEMBER WITH ADMIN OPTION')
    OR (pg_catalog.current_setting('server_version_num')::integer < 160000
        AND (SELECT r.rolcreaterole FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user)
        AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = p_role));

DO $roles$
DECLARE
    v_asked text := nullif(pg_catalog.current_setting('pgstaging.role_prefix', true), '');
    v_prefix text;
    v_kind text;
    v_role name;
BEGIN
    SELECT g.role_prefix INTO v_prefix FROM pgstaging.group_roles AS g LIMIT 1;
    IF v_prefix IS NULL THEN
        IF EXISTS (SELECT 1 FROM pgstaging.installs) THEN
            v_prefix := 'staging';  -- an upgrade of 0.1.0 keeps its names
        ELSE
            v_prefix := coalesce(v_asked, 'staging_' || current_database());
        END IF;
    END IF;
    IF v_asked IS NOT NULL AND v_asked <> v_prefix THEN
        RAISE EXCEPTION 'pgstaging: this database''s group roles use the prefix "%", not "%"', v_prefix, v_asked
            USING ERRCODE = '22023',
                  HINT = 'The prefix is chosen at the first install; see pgstaging.group_roles.';
    END IF;
    INSERT INTO pgstaging.group_roles (role_kind, role_name, role_prefix)
    SELECT k.kind, pgstaging.derive_group_role(v_prefix, k.kind), v_prefix
    FROM unnest(ARRAY['script', 'validator', 'reader', 'steward']) AS k (kind)
    WHERE NOT EXISTS (SELECT 1 FROM pgstaging.group_roles AS g WHERE g.role_kind = k.kind);

    FOR v_kind, v_role IN SELECT g.role_kind, g.role_name FROM pgstaging.group_roles AS g ORDER BY g.role_kind LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS r WHERE r.rolname = v_role) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', v_role);
        ELSIF NOT pgstaging.may_administer_role(v_role) THEN
            RAISE EXCEPTION 'pgstaging: role "%" exists and "%" lacks the ADMIN option on it', v_role, current_user
                USING ERRCODE = '42501',
                      DETAIL = 'Installing grants the group roles privileges and memberships; PostgreSQL 16 and later require ADMIN OPTION for that.',
                      HINT = pg_catalog.format('Have a role with ADMIN on it run: GRANT %I TO %I WITH ADMIN OPTION; '
                                               'or install with another --role-prefix.', v_role, current_user);
        END IF;
        EXECUTE pg_catalog.format('COMMENT ON ROLE %I IS %L', v_role, CASE v_kind
            WHEN 'script' THEN 'pgstaging: may only INSERT raw rows into *_staging tables'
            WHEN 'validator' THEN 'pgstaging: may run promote_* functions; reads staging and production'
            WHEN 'reader' THEN 'pgstaging: reads staging and production tables'
            ELSE 'pgstaging: a validator that may also restage failed rows' END);
    END LOOP;
END
$roles$;

REVOKE ALL ON FUNCTION pgstaging.derive_group_role(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.may_administer_role(name) FROM PUBLIC;
