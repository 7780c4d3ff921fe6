-- Actors with their own rights (owner-only). An actor is bound to the
-- logins that run it (pgstaging.actor_logins); its rights are rows of
-- pgstaging.actor_rights: stage, patch (fields: raw keys), read (fields:
-- production columns), start (no table). Every change is applied at once:
-- column-level SELECT for read, the staging rights guard for stage/patch.

-- A spec's fields as (raw key, column, is a natural-key field).
CREATE OR REPLACE FUNCTION pgstaging.spec_fields(p_table text)
RETURNS TABLE (raw_key text, column_name name, is_key boolean)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT coalesce(f.field ->> 'source', f.field ->> 'column'), (f.field ->> 'column')::name,
           (t.spec -> 'natural_key') ? (f.field ->> 'column')
    FROM pgstaging.staged_tables AS t
    CROSS JOIN LATERAL jsonb_array_elements(t.spec -> 'fields') AS f (field)
    WHERE t.table_name = p_table
$function$;

-- Check an (actor, table, right, fields) request; returns the actor_id and
-- the fields normalized: raw keys for patch, columns for read, NULL else.
CREATE OR REPLACE FUNCTION pgstaging.check_actor_right(
    p_actor text, p_table text, p_right text, p_fields text [], OUT o_actor_id integer, OUT o_fields text []
)
LANGUAGE plpgsql
STABLE
-- FROM CURRENT: actors lives in the target schema.
SET search_path FROM CURRENT
AS $function$
DECLARE
    v_unknown text[];
BEGIN
    SELECT a.actor_id INTO o_actor_id FROM actors AS a WHERE a.actor_name = p_actor;
    IF o_actor_id IS NULL THEN
        RAISE EXCEPTION 'pgstaging: no actor "%"', p_actor
            USING ERRCODE = '22023', HINT = 'Bind it to a login first: SELECT pgstaging.add_actor(actor, login).';
    END IF;
    IF p_right IS NULL OR p_right NOT IN ('stage', 'patch', 'read', 'start') THEN
        RAISE EXCEPTION 'pgstaging: unknown right "%"', p_right
            USING ERRCODE = '22023', HINT = 'One of: stage, patch, read, start.';
    END IF;
    IF p_right = 'start' THEN
        IF p_table IS NOT NULL OR p_fields IS NOT NULL THEN
            RAISE EXCEPTION 'pgstaging: the start right takes no table and no fields'
                USING ERRCODE = '22023', HINT = 'Pass NULL as the table.';
        END IF;
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pgstaging.staged_tables AS t WHERE t.table_name = p_table) THEN
        RAISE EXCEPTION 'pgstaging: "%" is not a staged table', p_table
            USING ERRCODE = '22023',
                  HINT = (SELECT 'Known: ' || string_agg(t.table_name, ', ' ORDER BY t.table_name) FROM pgstaging.staged_tables AS t);
    END IF;
    IF p_fields IS NULL OR p_right = 'stage' THEN
        IF p_fields IS NOT NULL THEN
            RAISE EXCEPTION 'pgstaging: the stage right takes no fields' USING ERRCODE = '22023';
        END IF;
        RETURN;
    END IF;
    SELECT array_agg(q.field ORDER BY q.ord) INTO v_unknown
    FROM unnest(p_fields) WITH ORDINALITY AS q (field, ord)
    WHERE NOT EXISTS (SELECT 1 FROM pgstaging.spec_fields(p_table) AS f
                      WHERE q.field IN (f.raw_key, f.column_name::text));
    IF v_unknown IS NOT NULL THEN
        RAISE EXCEPTION 'pgstaging: % has no field %', p_table, array_to_string(v_unknown, ', ')
            USING ERRCODE = '22023',
                  HINT = (SELECT 'Fields (raw key or column): ' || string_agg(f.raw_key, ', ') FROM pgstaging.spec_fields(p_table) AS f);
    END IF;
    IF p_right = 'patch' THEN
        SELECT array_agg(DISTINCT f.raw_key) FILTER (WHERE f.is_key) , array_agg(DISTINCT f.raw_key)
        INTO v_unknown, o_fields
        FROM pgstaging.spec_fields(p_table) AS f
        WHERE f.raw_key = ANY (p_fields) OR f.column_name::text = ANY (p_fields);
        IF v_unknown IS NOT NULL THEN
            RAISE EXCEPTION 'pgstaging: key fields are not patchable: %', array_to_string(v_unknown, ', ')
                USING ERRCODE = '22023', HINT = 'A patch names its row by the natural key; it cannot change it.';
        END IF;
    ELSE
        SELECT array_agg(DISTINCT f.column_name::text) INTO o_fields
        FROM pgstaging.spec_fields(p_table) AS f
        WHERE f.raw_key = ANY (p_fields) OR f.column_name::text = ANY (p_fields);
    END IF;
END
$function$;

-- Bind an actor to a login (creating the actor where missing); returns the
-- actor_id. The login's read rights and staging guards follow at once.
CREATE OR REPLACE FUNCTION pgstaging.add_actor(p_actor text, p_login name)
RETURNS integer
LANGUAGE plpgsql
-- FROM CURRENT: actors lives in the target schema.
SET search_path FROM CURRENT
AS $function$
DECLARE
    v_actor_id integer;
    v_table name;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS r WHERE r.rolname = p_login) THEN
        RAISE EXCEPTION 'pgstaging: no role "%"', p_login
            USING ERRCODE = '22023', HINT = 'Create the login first (CREATE ROLE ... LOGIN).';
    END IF;
    IF p_actor IS NULL OR btrim(p_actor) = '' THEN
        RAISE EXCEPTION 'pgstaging: an actor needs a name' USING ERRCODE = '22023';
    END IF;
    SELECT a.actor_id INTO v_actor_id FROM actors AS a WHERE a.actor_name = p_actor;
    IF v_actor_id IS NULL THEN
        INSERT INTO actors (actor_name) VALUES (p_actor) RETURNING actor_id INTO v_actor_id;
    END IF;
    INSERT INTO pgstaging.actor_logins (actor_id, login) VALUES (v_actor_id, p_login) ON CONFLICT DO NOTHING;
    IF FOUND THEN
        FOR v_table IN SELECT DISTINCT r.table_name FROM pgstaging.actor_rights AS r
                       WHERE r.actor_id = v_actor_id AND r.table_name IS NOT NULL LOOP
            PERFORM pgstaging.apply_actor_rights(v_table);
        END LOOP;
    END IF;
    RETURN v_actor_id;
END
$function$;

CREATE OR REPLACE FUNCTION pgstaging.allow_actor(p_actor text, p_table text, p_right text, p_fields text [] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_check record;
BEGIN
    v_check := pgstaging.check_actor_right(p_actor, p_table, p_right, p_fields);
    INSERT INTO pgstaging.actor_rights AS r (actor_id, table_name, right_name, fields)
    VALUES (v_check.o_actor_id, p_table, p_right, v_check.o_fields)
    ON CONFLICT ON CONSTRAINT actor_rights_key DO UPDATE
    SET fields = CASE WHEN r.fields IS NULL OR excluded.fields IS NULL THEN NULL
                      ELSE ARRAY(SELECT DISTINCT u.f FROM unnest(r.fields || excluded.fields) AS u (f) ORDER BY 1) END
    WHERE r.fields IS DISTINCT FROM excluded.fields;
    IF p_table IS NOT NULL THEN
        PERFORM pgstaging.apply_actor_rights(p_table);
    END IF;
END
$function$;

-- Take a right back; with p_fields, only those fields (the right goes when
-- none is left).
CREATE OR REPLACE FUNCTION pgstaging.disallow_actor(p_actor text, p_table text, p_right text, p_fields text [] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
-- FROM CURRENT: actors lives in the target schema.
SET search_path FROM CURRENT
AS $function$
DECLARE
    v_check record;
BEGIN
    v_check := pgstaging.check_actor_right(p_actor, p_table, p_right, p_fields);
    IF v_check.o_fields IS NULL THEN
        DELETE FROM pgstaging.actor_rights AS r
        WHERE r.actor_id = v_check.o_actor_id AND r.table_name IS NOT DISTINCT FROM p_table AND r.right_name = p_right;
    ELSE
        -- A right on every field (NULL) narrows to the rest of the spec's.
        UPDATE pgstaging.actor_rights AS r
        SET fields = ARRAY(SELECT u.f FROM unnest(coalesce(r.fields, (
                               SELECT array_agg(CASE WHEN p_right = 'patch' THEN f.raw_key ELSE f.column_name::text END)
                               FROM pgstaging.spec_fields(p_table) AS f WHERE p_right <> 'patch' OR NOT f.is_key))) AS u (f)
                           WHERE u.f <> ALL (v_check.o_fields) ORDER BY 1)
        WHERE r.actor_id = v_check.o_actor_id AND r.table_name = p_table AND r.right_name = p_right;
        DELETE FROM pgstaging.actor_rights AS r
        WHERE r.actor_id = v_check.o_actor_id AND r.table_name = p_table AND r.right_name = p_right
          AND cardinality(r.fields) = 0;
    END IF;
    IF p_table IS NOT NULL THEN
        PERFORM pgstaging.apply_actor_rights(p_table);
    END IF;
END
$function$;

-- read: column-level SELECT on production (never staging) for the logins
-- of actors with read on the table, exactly: every bound login first loses
-- what it held. Owners, superusers and the group roles are left alone.
CREATE OR REPLACE FUNCTION pgstaging.apply_actor_reads(p_table text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_prod regclass;
    v_login name;
    v_columns text;
BEGIN
    SELECT t.production_table INTO v_prod FROM pgstaging.staged_tables AS t WHERE t.table_name = p_table;
    IF v_prod IS NULL THEN
        RETURN;
    END IF;
    FOR v_login, v_columns IN
        SELECT l.login,
               (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
                FROM pg_attribute AS a
                WHERE a.attrelid = v_prod AND a.attnum > 0 AND NOT a.attisdropped
                  AND EXISTS (SELECT 1 FROM pgstaging.actor_logins AS l2
                              JOIN pgstaging.actor_rights AS r ON r.actor_id = l2.actor_id
                              WHERE l2.login = l.login AND r.table_name = p_table AND r.right_name = 'read'
                                AND (r.fields IS NULL OR a.attname::text = ANY (r.fields))))
        FROM (SELECT DISTINCT al.login FROM pgstaging.actor_logins AS al) AS l
        JOIN pg_roles AS role ON role.rolname = l.login
        WHERE NOT role.rolsuper
          AND role.oid <> (SELECT c.relowner FROM pg_class AS c WHERE c.oid = v_prod)
          AND l.login NOT IN (SELECT g.role_name FROM pgstaging.group_roles AS g)
    LOOP
        EXECUTE format('REVOKE SELECT ON TABLE %s FROM %I', v_prod, v_login);
        IF v_columns IS NOT NULL THEN
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I',
                (SELECT n.nspname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE c.oid = v_prod),
                v_login);
            EXECUTE format('GRANT SELECT (%s) ON TABLE %s TO %I', v_columns, v_prod, v_login);
        END IF;
    END LOOP;
END
$function$;

-- Everything an actor right changes on one table.
CREATE OR REPLACE FUNCTION pgstaging.apply_actor_rights(p_table text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    PERFORM pgstaging.apply_actor_reads(p_table);
    PERFORM pgstaging.attach_staging_rights(t.staging_table)
    FROM pgstaging.staged_tables AS t WHERE t.table_name = p_table;
END
$function$;

-- start: may this login start and end runs? (Called by start_run/end_run.)
CREATE OR REPLACE FUNCTION pgstaging.login_may_start_runs(p_login name)
RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
RETURN EXISTS (
    SELECT 1 FROM pgstaging.actor_logins AS l
    INNER JOIN pgstaging.actor_rights AS r ON l.actor_id = r.actor_id
    WHERE l.login = p_login AND r.right_name = 'start'
) AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS r WHERE r.rolname = p_login)
  AND pg_catalog.pg_has_role(p_login, pgstaging.group_role('script'), 'MEMBER');

-- What `pgstaging actor list` shows: one row per actor and login, with its rights.
CREATE OR REPLACE FUNCTION pgstaging.actor_list()
RETURNS TABLE (actor_id integer, actor_name text, logins name [], rights jsonb)
LANGUAGE sql
STABLE
-- FROM CURRENT: actors lives in the target schema.
SET search_path FROM CURRENT
AS $function$
    SELECT a.actor_id, a.actor_name,
           coalesce((SELECT array_agg(l.login ORDER BY l.login) FROM pgstaging.actor_logins AS l WHERE l.actor_id = a.actor_id), '{}'),
           coalesce((SELECT jsonb_agg(jsonb_build_object('table', r.table_name, 'right', r.right_name, 'fields', r.fields)
                                      ORDER BY r.table_name NULLS FIRST, r.right_name)
                     FROM pgstaging.actor_rights AS r WHERE r.actor_id = a.actor_id), '[]')
    FROM actors AS a
    WHERE EXISTS (SELECT 1 FROM pgstaging.actor_logins AS l WHERE l.actor_id = a.actor_id)
       OR EXISTS (SELECT 1 FROM pgstaging.actor_rights AS r WHERE r.actor_id = a.actor_id)
    ORDER BY a.actor_id
$function$;

REVOKE ALL ON FUNCTION pgstaging.spec_fields(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.check_actor_right(text, text, text, text []) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.add_actor(text, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.allow_actor(text, text, text, text []) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.disallow_actor(text, text, text, text []) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.apply_actor_reads(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.apply_actor_rights(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.login_may_start_runs(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.actor_list() FROM PUBLIC;
