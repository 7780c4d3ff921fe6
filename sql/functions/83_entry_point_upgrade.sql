-- 0.2.0 gives the entry points (promote_/retry_/unpromote_{table}_staging)
-- and the engine (run_promotion, run_unpromotion) a p_interaction_id.

-- Replace function p_old by p_new, which has the same name and more
-- parameters: whoever could call the old one can call the new one, then
-- the old one is dropped. Nothing to do once it is gone.
CREATE OR REPLACE FUNCTION pgstaging.replace_function_keeping_grants(p_old text, p_new text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_old regprocedure := pg_catalog.to_regprocedure(p_old);
    v_new regprocedure := p_new::regprocedure;
    v_grant record;
BEGIN
    IF v_old IS NULL THEN
        RETURN;
    END IF;
    FOR v_grant IN
        SELECT a.grantee, a.is_grantable
        FROM pg_catalog.pg_proc AS p
        CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) AS a
        WHERE p.oid = v_old AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s%s', v_new,
            CASE WHEN v_grant.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(v_grant.grantee::regrole::text) END,
            CASE WHEN v_grant.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    EXECUTE pg_catalog.format('DROP FUNCTION %s', v_old);
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.replace_function_keeping_grants(text, text) FROM PUBLIC;

-- Upgrading from 0.1.0: give every registered table the new entry points
-- (re-registering its unchanged spec changes nothing else), then drop the
-- old engine signatures, which nothing calls any more.
DO $upgrade$
DECLARE
    v_spec jsonb;
BEGIN
    IF pg_catalog.to_regprocedure('pgstaging.run_promotion(name, integer, text, boolean, bigint[])') IS NULL
       AND pg_catalog.to_regprocedure('pgstaging.run_unpromotion(name, integer, text, boolean)') IS NULL THEN
        RETURN;
    END IF;
    FOR v_spec IN SELECT t.spec FROM pgstaging.staged_tables AS t ORDER BY t.registered_at, t.table_name LOOP
        PERFORM pgstaging.register_staged_table(v_spec);
    END LOOP;
    IF pg_catalog.to_regprocedure('pgstaging.run_promotion(name, integer, text, boolean, bigint[])') IS NOT NULL THEN
        DROP FUNCTION pgstaging.run_promotion(name, integer, text, boolean, bigint []);
    END IF;
    IF pg_catalog.to_regprocedure('pgstaging.run_unpromotion(name, integer, text, boolean)') IS NOT NULL THEN
        DROP FUNCTION pgstaging.run_unpromotion(name, integer, text, boolean);
    END IF;
END
$upgrade$;
