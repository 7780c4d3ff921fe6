-- Trigger functions that enforce what grants cannot. They are SECURITY
-- INVOKER on purpose: they must see the caller's current_user.

-- Statement-level guard on production tables and on UPDATE of staging
-- tables: only pgstaging functions write there, whatever grants say.
-- pgstaging functions set pgstaging.writer while they write, and run as
-- the table owner. A caller can set the flag, but cannot become the owner.
-- A production table in observe mode (pgstaging.set_guard) carries the
-- observing triggers: there a direct INSERT, UPDATE or DELETE goes through
-- (the observing trigger records it and checks it), and pgstaging's own
-- statements leave a pass the observing trigger takes back, so they are not
-- recorded. Staging tables never carry them: they stay guarded.
CREATE OR REPLACE FUNCTION pgstaging.guard_pgstaging_writes()
RETURNS trigger
LANGUAGE plpgsql
-- Pinned: fired by a caller's own statement, an unpinned guard would plan its
-- comparisons under the caller's search_path, where a planted oid "="
-- operator could make any role look like the owner.
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_observed boolean;
BEGIN
    -- Catalog only: a trigger on this table executing the observing
    -- function; only the owner can create one (TRIGGER, and EXECUTE on it).
    v_observed := EXISTS (
        SELECT 1 FROM pg_catalog.pg_trigger AS t
        INNER JOIN pg_catalog.pg_proc AS p ON p.oid = t.tgfoid
        WHERE t.tgrelid = TG_RELID AND p.proname = 'observe_direct_writes'
          AND p.pronamespace = 'pgstaging'::regnamespace
    );
    IF pg_catalog.current_setting('pgstaging.writer', true) = 'on'
        AND (SELECT c.relowner FROM pg_catalog.pg_class AS c WHERE c.oid = TG_RELID)
            = (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user) THEN
        IF v_observed AND TG_OP <> 'TRUNCATE' THEN
            INSERT INTO pgstaging.guard_passes AS g (transaction_id, relid, operation, pending)
            VALUES (pg_catalog.pg_current_xact_id(), TG_RELID, TG_OP, 1)
            ON CONFLICT (transaction_id, relid, operation) DO UPDATE SET pending = g.pending + 1;
        END IF;
        RETURN NULL;
    END IF;
    IF v_observed AND TG_OP <> 'TRUNCATE' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'pgstaging: % on %.% is refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = '42501',
              DETAIL = pg_catalog.format('Only pgstaging functions write this table; current_user is %s.', current_user),
              HINT = CASE WHEN v_observed
                          THEN 'The table is in observe mode, where TRUNCATE is still refused: unpromote could no longer tell what changed.'
                          ELSE 'Stage rows in the *_staging table and call its promote_*_staging(run_id) function.' END;
END
$function$;

-- Statement-level guard on DELETE / TRUNCATE of staging tables: staged rows
-- are kept for audit; only the table owner may remove them (retention).
CREATE OR REPLACE FUNCTION pgstaging.guard_staging_removal()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF (SELECT c.relowner FROM pg_catalog.pg_class AS c WHERE c.oid = TG_RELID)
        IS DISTINCT FROM (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'pgstaging: % on %.% is refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
            USING ERRCODE = '42501',
                  DETAIL = 'Staged rows are kept for audit; only the table owner may remove them.';
    END IF;
    RETURN NULL;
END
$function$;

-- Row-level guard, fired only (via WHEN) for rows whose verdict or
-- provenance columns were set by the writer instead of by the database.
CREATE OR REPLACE FUNCTION pgstaging.refuse_forged_staging_row()
RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION 'pgstaging: a staged row may not set its own verdict or provenance'
        USING ERRCODE = '42501',
              DETAIL = pg_catalog.format('Table %I.%I; inserted_by, created_at and the verdict columns are set by the database.',
                                         TG_TABLE_SCHEMA, TG_TABLE_NAME),
              HINT = 'Insert only workflow_run_id, actor_id, interaction_id and raw_data.';
END
$function$;

-- Row-level guard, fired only (via WHEN) when an UPDATE touches what a
-- staged row recorded at insert: raw_data and who/when. Never allowed.
CREATE OR REPLACE FUNCTION pgstaging.refuse_staging_rewrite()
RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION 'pgstaging: raw_data and provenance of staged row % are immutable', OLD.staging_id
        USING ERRCODE = '42501',
              DETAIL = pg_catalog.format('Table %I.%I; even the owner may not rewrite what a script staged.',
                                         TG_TABLE_SCHEMA, TG_TABLE_NAME),
              HINT = 'Stage a corrected row instead; the original stays as it was.';
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.guard_pgstaging_writes() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.guard_staging_removal() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.refuse_forged_staging_row() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.refuse_staging_rewrite() FROM PUBLIC;

-- Row-level guard, fired only (via WHEN) for a row that claims to supersede
-- another: re-staging is the owner's (pgstaging.restage), not a script's.
CREATE OR REPLACE FUNCTION pgstaging.refuse_foreign_restage()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF (SELECT c.relowner FROM pg_catalog.pg_class AS c WHERE c.oid = TG_RELID)
        IS DISTINCT FROM (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'pgstaging: only the owner may re-stage a row'
            USING ERRCODE = '42501',
                  DETAIL = pg_catalog.format('Table %I.%I; supersedes_staging_id is set by pgstaging.restage.',
                                             TG_TABLE_SCHEMA, TG_TABLE_NAME);
    END IF;
    RETURN NEW;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.refuse_foreign_restage() FROM PUBLIC;

-- Row-level trigger on production tables with the update policy: keeps the
-- row as it was before a promotion changed it, in the same statement, so
-- no race can leave an update without its pre-image. Fires only (via WHEN)
-- when a new staged row takes over updated_by_staging_id.
CREATE OR REPLACE FUNCTION pgstaging.capture_preimage()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF pg_catalog.current_setting('pgstaging.restoring', true) IS DISTINCT FROM 'on' THEN
        INSERT INTO pgstaging.update_preimages (table_name, production_id, staging_id, preimage)
        VALUES (TG_ARGV[0], (pg_catalog.to_jsonb(OLD) ->> TG_ARGV[1])::bigint, NEW.updated_by_staging_id,
                pg_catalog.to_jsonb(OLD))
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.capture_preimage() FROM PUBLIC;
