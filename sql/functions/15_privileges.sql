-- Schema-qualified name of a relation, whatever the current search_path:
-- generated statements run under a search_path of pg_catalog, pg_temp.
CREATE OR REPLACE FUNCTION pgstaging.qualified_name(p_relation regclass)
RETURNS text
LANGUAGE sql
STABLE
RETURN (SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
        FROM pg_catalog.pg_class AS c
        INNER JOIN pg_catalog.pg_namespace AS n ON c.relnamespace = n.oid
        WHERE c.oid = p_relation);

-- GRANT SELECT on every current column of a table, as a column-level grant:
-- a column added later is not readable until an install grants it.
CREATE OR REPLACE FUNCTION pgstaging.grant_select_all_columns(p_table regclass, p_role name)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    EXECUTE (
        SELECT format('GRANT SELECT (%s) ON TABLE %s TO %I',
                      string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum), p_table, p_role)
        FROM pg_catalog.pg_attribute AS a
        WHERE a.attrelid = p_table AND a.attnum > 0 AND NOT a.attisdropped
    );
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.grant_select_all_columns(regclass, name) FROM PUBLIC;


REVOKE ALL ON FUNCTION pgstaging.qualified_name(regclass) FROM PUBLIC;

-- GRANT p_role TO p_member where the membership is missing (a repeated
-- GRANT prints a NOTICE). p_with_set: p_member must be able to SET ROLE to
-- p_role; on 16+ that is an option of its own (WITH SET TRUE, INHERIT FALSE:
-- SET ROLE, not the role's rights), before 16 membership gives it.
CREATE OR REPLACE FUNCTION pgstaging.grant_membership(p_role name, p_member name, p_with_set boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_modern boolean := current_setting('server_version_num')::integer >= 160000;
    v_has boolean;
    v_set_column name := CASE WHEN v_modern THEN 'set_option' END;
    v_set_options text := CASE WHEN v_modern THEN 'WITH INHERIT FALSE, SET TRUE' END;
BEGIN
    IF v_modern AND p_with_set THEN
        -- Dynamic: the column, like the GRANT syntax below, is 16+ only.
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members AS m
                        WHERE m.roleid = $1::regrole AND m.member = $2::regrole AND m.%I)', v_set_column)
            INTO v_has USING p_role, p_member;
    ELSE
        v_has := EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members AS m
                         WHERE m.roleid = p_role::regrole AND m.member = p_member::regrole);
    END IF;
    IF v_has THEN
        RETURN;
    ELSIF v_modern AND p_with_set THEN
        EXECUTE format('GRANT %I TO %I %s', p_role, p_member, v_set_options);
    ELSE
        EXECUTE format('GRANT %I TO %I', p_role, p_member);
    END IF;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.grant_membership(name, name, boolean) FROM PUBLIC;
