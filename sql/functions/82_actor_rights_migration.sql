-- Upgrades from 0.1.0, once: every login that has staged rows is bound to
-- the actors it staged as, with stage on the tables it staged into, so
-- running workflows keep working under the rights guard. Recorded in
-- pgstaging.data_migrations, so it never runs again (a fresh install
-- records it with nothing to do).
DO $migration$
DECLARE
    v_table pgstaging.staged_tables;
BEGIN
    IF EXISTS (SELECT 1 FROM pgstaging.data_migrations AS m WHERE m.migration = 'actor_rights_from_staged_rows') THEN
        RETURN;
    END IF;
    FOR v_table IN SELECT t.* FROM pgstaging.staged_tables AS t ORDER BY t.table_name LOOP
        EXECUTE format($sql$
            WITH staged AS (
                SELECT DISTINCT s.actor_id, s.inserted_by AS login
                FROM %s AS s
                JOIN pg_catalog.pg_roles AS r ON r.rolname = s.inserted_by
                WHERE s.actor_id IS NOT NULL AND NOT r.rolsuper
                  AND r.oid <> (SELECT c.relowner FROM pg_catalog.pg_class AS c WHERE c.oid = %L::regclass)
            ), bound AS (
                INSERT INTO pgstaging.actor_logins (actor_id, login, added_by)
                SELECT s.actor_id, s.login, 'pgstaging upgrade' FROM staged AS s
                ON CONFLICT DO NOTHING
            )
            INSERT INTO pgstaging.actor_rights (actor_id, table_name, right_name, granted_by)
            SELECT DISTINCT s.actor_id, %L, 'stage', 'pgstaging upgrade' FROM staged AS s
            ON CONFLICT DO NOTHING$sql$, v_table.staging_table, v_table.staging_table, v_table.table_name);
        PERFORM pgstaging.apply_actor_rights(v_table.table_name);
    END LOOP;
    INSERT INTO pgstaging.data_migrations (migration) VALUES ('actor_rights_from_staged_rows');
END
$migration$;
