-- The generator, step 5: DDL, one small idempotent step per object. Each
-- step looks in the catalog first, so a re-registration changes nothing
-- and prints nothing; a change to a table that existed before (a table
-- being adopted, or an upgrade) is reported as a NOTICE, which the
-- installer prints.

-- Run one DDL statement; RAISE DEBUG shows it (SET client_min_messages =
-- debug to watch), p_note is reported when set.
CREATE OR REPLACE FUNCTION pgstaging.run_ddl(p_sql text, p_note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    RAISE DEBUG 'pgstaging: %', p_sql;
    EXECUTE p_sql;
    IF p_note IS NOT NULL THEN
        RAISE NOTICE 'pgstaging: %', p_note;
    END IF;
END
$function$;

-- Whether a relation has a column, a constraint, a trigger; an index by name.
CREATE OR REPLACE FUNCTION pgstaging.has_column(p_relation regclass, p_column name)
RETURNS boolean
LANGUAGE sql
STABLE
RETURN EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
               WHERE a.attrelid = p_relation AND a.attname = p_column AND a.attnum > 0 AND NOT a.attisdropped);

CREATE OR REPLACE FUNCTION pgstaging.has_constraint(p_relation regclass, p_name name)
RETURNS boolean
LANGUAGE sql
STABLE
RETURN EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS c WHERE c.conrelid = p_relation AND c.conname = p_name);

-- The statement that creates an index where it is missing (or NULL).
CREATE OR REPLACE FUNCTION pgstaging.ensure_index(p_schema name, p_name name, p_definition text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF to_regclass(format('%I.%I', p_schema, p_name)) IS NULL THEN
        PERFORM pgstaging.run_ddl(format('CREATE %s', replace(p_definition, '{name}', format('%I', p_name))));
    END IF;
END
$function$;

-- The production table: created where absent, completed where it exists
-- (its rows, constraints, indexes, triggers and grants are kept).
CREATE OR REPLACE FUNCTION pgstaging.ensure_production_table(p_schema name, p_spec jsonb, p_fields jsonb)
RETURNS regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_table name := p_spec ->> 'table';
    v_relation regclass := to_regclass(format('%I.%I', p_schema, p_spec ->> 'table'));
    v_column record;
BEGIN
    IF v_relation IS NULL THEN
        PERFORM pgstaging.run_ddl(format(
            E'CREATE TABLE %I.%I (\n    %I bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,%s\n'
            '    created_by_staging_id bigint,\n    created_by_interaction_id bigint,\n'
            '    created_at timestamptz NOT NULL DEFAULT now(),\n'
            '    updated_by_staging_id bigint,\n    updated_by_interaction_id bigint,\n    updated_at timestamptz,\n'
            '    enabled boolean NOT NULL DEFAULT true,\n    invalidated boolean NOT NULL DEFAULT false\n)',
            p_schema, v_table, p_spec ->> 'id_column',
            (SELECT string_agg(format(E'\n    %I %s%s,', f.column_name, f.sql_type,
                                      CASE WHEN f.not_null THEN ' NOT NULL' ELSE '' END), '' ORDER BY f.ord)
             FROM jsonb_to_recordset(p_fields) AS f (ord integer, column_name name, sql_type text, not_null boolean))));
        RETURN to_regclass(format('%I.%I', p_schema, v_table));
    END IF;
    -- An existing table: add what is missing, and say so.
    FOR v_column IN
        SELECT c.column_name, c.definition
        FROM (
            SELECT f.ord, f.column_name, f.sql_type AS definition
            FROM jsonb_to_recordset(p_fields) AS f (ord integer, column_name name, sql_type text)
            UNION ALL
            SELECT 1000 + a.ord, a.column_name, a.definition
            FROM (VALUES (1, 'created_by_staging_id', 'bigint'), (2, 'created_by_interaction_id', 'bigint'),
                         (3, 'created_at', 'timestamptz NOT NULL DEFAULT now()'),
                         (4, 'updated_by_staging_id', 'bigint'), (5, 'updated_by_interaction_id', 'bigint'),
                         (6, 'updated_at', 'timestamptz'),
                         (7, 'enabled', 'boolean NOT NULL DEFAULT true'),
                         (8, 'invalidated', 'boolean NOT NULL DEFAULT false')) AS a (ord, column_name, definition)
        ) AS c
        WHERE NOT pgstaging.has_column(v_relation, c.column_name)
        ORDER BY c.ord
    LOOP
        PERFORM pgstaging.run_ddl(format('ALTER TABLE %s ADD COLUMN %I %s', v_relation, v_column.column_name, v_column.definition),
                                  format('%s: added column %s %s', v_relation, v_column.column_name, v_column.definition));
    END LOOP;
    RETURN v_relation;
END
$function$;

-- The verdict rule of a staged row, by outcome.
CREATE OR REPLACE FUNCTION pgstaging.verdict_check_sql()
RETURNS text
LANGUAGE sql
IMMUTABLE
RETURN $sql$(outcome IS NULL AND NOT validated AND NOT promoted)
        OR (outcome = 'failed' AND validated AND NOT promoted AND validation_errors IS NOT NULL)
        OR (outcome = 'rolled_back' AND validated AND NOT promoted AND rolled_back_at IS NOT NULL)
        OR (outcome IN ('promoted', 'duplicate', 'updated') AND validated AND promoted AND promoted_to_id IS NOT NULL)
        OR (outcome = 'superseded' AND NOT promoted)$sql$;

-- {table}_staging: the design's columns plus provenance and verdict detail.
CREATE OR REPLACE FUNCTION pgstaging.ensure_staging_table(p_schema name, p_table name)
RETURNS regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_staging name := p_table || '_staging';
    v_relation regclass := to_regclass(format('%I.%I', p_schema, p_table || '_staging'));
BEGIN
    IF v_relation IS NULL THEN
        PERFORM pgstaging.run_ddl(format($ddl$CREATE TABLE %1$I.%2$I (
    staging_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_run_id integer NOT NULL REFERENCES %1$I.workflow_runs (workflow_run_id),
    actor_id integer REFERENCES %1$I.actors (actor_id),
    interaction_id bigint,
    raw_data jsonb NOT NULL,
    validated boolean NOT NULL DEFAULT false,
    validation_errors jsonb,
    validated_at timestamptz,
    validated_by name,
    rule_version integer,
    promoted boolean NOT NULL DEFAULT false,
    promoted_to_id bigint,
    promoted_at timestamptz,
    outcome text,
    rolled_back_at timestamptz,
    rolled_back_by name,
    rollback_reason text,
    supersedes_staging_id bigint REFERENCES %1$I.%2$I (staging_id),
    inserted_by name NOT NULL DEFAULT session_user,
    created_at timestamptz NOT NULL DEFAULT now(),
    operation text NOT NULL DEFAULT 'insert',
    CONSTRAINT %3$I CHECK (outcome IN ('promoted', 'duplicate', 'updated', 'failed', 'rolled_back', 'superseded')),
    CONSTRAINT %4$I CHECK (
        %5$s
    ),
    CONSTRAINT %6$I CHECK (operation IN ('insert', 'patch'))
)$ddl$, p_schema, v_staging, v_staging || '_outcome_check', v_staging || '_verdict_check', pgstaging.verdict_check_sql(),
            v_staging || '_operation_check'));
        v_relation := to_regclass(format('%I.%I', p_schema, v_staging));
        PERFORM pgstaging.run_ddl(format('COMMENT ON TABLE %s IS %L', v_relation,
            format('pgstaging: raw %s rows from script actors; judged by promote_%s(run_id)', p_table, v_staging)));
        RETURN v_relation;
    END IF;
    -- Upgrades from 0.1.0: patches, and the superseded outcome.
    IF NOT pgstaging.has_column(v_relation, 'operation') THEN
        PERFORM pgstaging.run_ddl(format('ALTER TABLE %s ADD COLUMN operation text NOT NULL DEFAULT ''insert'''
                                         ' CONSTRAINT %I CHECK (operation IN (''insert'', ''patch''))',
                                         v_relation, v_staging || '_operation_check'),
                                  format('%s: added column operation (insert or patch)', v_relation));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conrelid = v_relation AND c.conname = v_staging || '_outcome_check'
                   AND pg_get_constraintdef(c.oid) LIKE '%superseded%') THEN
        PERFORM pgstaging.run_ddl(format(
            'ALTER TABLE %1$s DROP CONSTRAINT IF EXISTS %2$I, DROP CONSTRAINT IF EXISTS %3$I,'
            ' ADD CONSTRAINT %2$I CHECK (outcome IN (''promoted'', ''duplicate'', ''updated'', ''failed'', ''rolled_back'', ''superseded'')),'
            ' ADD CONSTRAINT %3$I CHECK (%4$s)',
            v_relation, v_staging || '_outcome_check', v_staging || '_verdict_check', pgstaging.verdict_check_sql()),
            format('%s: outcomes now include superseded', v_relation));
    END IF;
    RETURN v_relation;
END
$function$;

-- Staging's indexes and guard triggers.
CREATE OR REPLACE FUNCTION pgstaging.ensure_staging_guards(p_staging regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_schema name := (SELECT n.nspname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE c.oid = p_staging);
    v_name name := (SELECT c.relname FROM pg_class AS c WHERE c.oid = p_staging);
BEGIN
    PERFORM pgstaging.ensure_index(v_schema, v_name || '_run_idx', format('INDEX {name} ON %s (workflow_run_id)', p_staging));
    PERFORM pgstaging.ensure_index(v_schema, v_name || '_actor_idx', format('INDEX {name} ON %s (actor_id)', p_staging));
    PERFORM pgstaging.ensure_index(v_schema, v_name || '_supersedes_idx',
                                   format('INDEX {name} ON %s (supersedes_staging_id)', p_staging));
    -- Pending rows: batch mode and the health view find them without a scan.
    PERFORM pgstaging.ensure_index(v_schema, v_name || '_pending_idx',
                                   format('INDEX {name} ON %s (staging_id) WHERE outcome IS NULL', p_staging));
    -- Patches are few: a promotion finds a run's without scanning the run.
    PERFORM pgstaging.ensure_index(v_schema, v_name || '_patch_idx',
                                   format('INDEX {name} ON %s (workflow_run_id) WHERE operation = ''patch''', p_staging));
    -- Health costs the last day, not the history.
    PERFORM pgstaging.ensure_health_indexes(p_staging);

    -- Triggers are replaced in place (CREATE OR REPLACE TRIGGER: no notice).
    PERFORM pgstaging.run_ddl(format($ddl$CREATE OR REPLACE TRIGGER %I BEFORE INSERT ON %s FOR EACH ROW
        WHEN (new.validated OR new.promoted OR new.outcome IS NOT NULL
              OR new.validation_errors IS NOT NULL OR new.validated_at IS NOT NULL OR new.validated_by IS NOT NULL
              OR new.rule_version IS NOT NULL
              OR new.promoted_to_id IS NOT NULL OR new.promoted_at IS NOT NULL
              OR new.rolled_back_at IS NOT NULL OR new.rolled_back_by IS NOT NULL OR new.rollback_reason IS NOT NULL
              OR new.inserted_by IS DISTINCT FROM session_user OR new.created_at IS DISTINCT FROM now())
        EXECUTE FUNCTION pgstaging.refuse_forged_staging_row()$ddl$, v_name || '_refuse_forged', p_staging));
    PERFORM pgstaging.run_ddl(format($ddl$CREATE OR REPLACE TRIGGER %I BEFORE INSERT ON %s FOR EACH ROW
        WHEN (new.supersedes_staging_id IS NOT NULL)
        EXECUTE FUNCTION pgstaging.refuse_foreign_restage()$ddl$, v_name || '_restage_owner_only', p_staging));
    PERFORM pgstaging.run_ddl(format($ddl$CREATE OR REPLACE TRIGGER %I
        BEFORE UPDATE OF raw_data, staging_id, workflow_run_id, actor_id, interaction_id,
            supersedes_staging_id, inserted_by, created_at, operation
        ON %s FOR EACH ROW
        WHEN (old.raw_data IS DISTINCT FROM new.raw_data
              OR old.staging_id IS DISTINCT FROM new.staging_id
              OR old.workflow_run_id IS DISTINCT FROM new.workflow_run_id
              OR old.actor_id IS DISTINCT FROM new.actor_id
              OR old.interaction_id IS DISTINCT FROM new.interaction_id
              OR old.supersedes_staging_id IS DISTINCT FROM new.supersedes_staging_id
              OR old.inserted_by IS DISTINCT FROM new.inserted_by
              OR old.created_at IS DISTINCT FROM new.created_at
              OR old.operation IS DISTINCT FROM new.operation)
        EXECUTE FUNCTION pgstaging.refuse_staging_rewrite()$ddl$, v_name || '_refuse_rewrite', p_staging));
    PERFORM pgstaging.run_ddl(format(
        'CREATE OR REPLACE TRIGGER %I BEFORE UPDATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION pgstaging.guard_pgstaging_writes()',
        v_name || '_guard_update', p_staging));
    PERFORM pgstaging.run_ddl(format(
        'CREATE OR REPLACE TRIGGER %I BEFORE DELETE OR TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION pgstaging.guard_staging_removal()',
        v_name || '_guard_removal', p_staging));
END
$function$;

-- Production: audit foreign keys (indexed), references, the natural key,
-- the write guard, the pre-image trigger (patches and the update policy).
CREATE OR REPLACE FUNCTION pgstaging.ensure_production_keys(
    p_production regclass,
    p_staging regclass,
    p_spec jsonb,
    p_fields jsonb,
    p_old_key_sql text
)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_table name := p_spec ->> 'table';
    v_schema name := (SELECT n.nspname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE c.oid = p_production);
    v_field record;
    v_key_conflict text := (
        SELECT string_agg(format(CASE WHEN f.case_insensitive THEN 'lower(%I)' ELSE '%I' END, k.name), ', ' ORDER BY k.ord)
        FROM jsonb_array_elements_text(p_spec -> 'natural_key') WITH ORDINALITY AS k (name, ord)
        INNER JOIN jsonb_to_recordset(p_fields) AS f (column_name name, case_insensitive boolean) ON f.column_name = k.name
    );
    v_plain_key boolean := NOT EXISTS (
        SELECT 1 FROM jsonb_to_recordset(p_fields) AS f (column_name name, case_insensitive boolean, is_key boolean)
        WHERE f.is_key AND f.case_insensitive
    );
BEGIN
    IF NOT pgstaging.has_constraint(p_production, v_table || '_created_by_staging_id_fkey') THEN
        PERFORM pgstaging.run_ddl(format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (created_by_staging_id) REFERENCES %s (staging_id)',
            p_production, v_table || '_created_by_staging_id_fkey', p_staging));
    END IF;
    IF NOT pgstaging.has_constraint(p_production, v_table || '_updated_by_staging_id_fkey') THEN
        PERFORM pgstaging.run_ddl(format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (updated_by_staging_id) REFERENCES %s (staging_id)',
            p_production, v_table || '_updated_by_staging_id_fkey', p_staging));
    END IF;
    -- Without these, deleting staged rows scans production once per row.
    PERFORM pgstaging.ensure_index(v_schema, v_table || '_created_by_staging_idx',
                                   format('INDEX {name} ON %s (created_by_staging_id)', p_production));
    PERFORM pgstaging.ensure_index(v_schema, v_table || '_updated_by_staging_idx',
                                   format('INDEX {name} ON %s (updated_by_staging_id)', p_production));
    FOR v_field IN
        SELECT f.column_name, f.ref_table, f.ref_id
        FROM jsonb_to_recordset(p_fields) AS f (ord integer, column_name name, is_reference boolean, ref_table text, ref_id name)
        WHERE f.is_reference ORDER BY f.ord
    LOOP
        IF NOT pgstaging.has_constraint(p_production, v_table || '_' || v_field.column_name || '_fkey') THEN
            PERFORM pgstaging.run_ddl(format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES %s (%I)',
                p_production, v_table || '_' || v_field.column_name || '_fkey', v_field.column_name,
                v_field.ref_table, v_field.ref_id));
        END IF;
        PERFORM pgstaging.ensure_index(v_schema, v_table || '_' || v_field.column_name || '_idx',
                                       format('INDEX {name} ON %s (%I)', p_production, v_field.column_name));
    END LOOP;

    -- A changed key (columns, or case sensitivity) replaces pgstaging's
    -- unique key; the new one is built on the existing rows.
    IF p_old_key_sql IS NOT NULL AND p_old_key_sql IS DISTINCT FROM pgstaging.spec_key_sql(p_spec) THEN
        IF pgstaging.has_constraint(p_production, v_table || '_natural_key') THEN
            PERFORM pgstaging.run_ddl(format('ALTER TABLE %s DROP CONSTRAINT %I', p_production, v_table || '_natural_key'));
        ELSIF to_regclass(format('%I.%I', v_schema, v_table || '_natural_key')) IS NOT NULL THEN
            PERFORM pgstaging.run_ddl(format('DROP INDEX %I.%I', v_schema, v_table || '_natural_key'));
        END IF;
    END IF;
    IF v_plain_key THEN
        -- A unique constraint the table already has on the key serves.
        IF NOT EXISTS (
            SELECT 1 FROM pg_constraint AS c
            WHERE c.conrelid = p_production AND c.contype IN ('u', 'p')
              AND c.conkey::smallint [] = ARRAY(
                  SELECT a.attnum FROM jsonb_array_elements_text(p_spec -> 'natural_key') WITH ORDINALITY AS k (name, ord)
                  JOIN pg_attribute AS a ON a.attrelid = p_production AND a.attname = k.name ORDER BY k.ord)::smallint []
        ) THEN
            PERFORM pgstaging.run_ddl(format('ALTER TABLE %s ADD CONSTRAINT %I UNIQUE (%s)', p_production,
                                             v_table || '_natural_key', v_key_conflict));
        END IF;
    ELSE
        PERFORM pgstaging.ensure_index(v_schema, v_table || '_natural_key',
                                       format('UNIQUE INDEX {name} ON %s (%s)', p_production, v_key_conflict));
    END IF;

    PERFORM pgstaging.run_ddl(format(
        'CREATE OR REPLACE TRIGGER %I BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s'
        ' FOR EACH STATEMENT EXECUTE FUNCTION pgstaging.guard_pgstaging_writes()',
        v_table || '_guard_writes', p_production));
    -- Patches can change a row under any policy: keep its pre-image.
    PERFORM pgstaging.run_ddl(format($ddl$CREATE OR REPLACE TRIGGER %I AFTER UPDATE ON %s FOR EACH ROW
        WHEN (new.updated_by_staging_id IS NOT NULL AND new.updated_by_staging_id IS DISTINCT FROM old.updated_by_staging_id)
        EXECUTE FUNCTION pgstaging.capture_preimage(%L, %L)$ddl$, v_table || '_capture_preimage', p_production, v_table,
        p_spec ->> 'id_column'));
    IF obj_description(p_production, 'pg_class') IS NULL THEN
        PERFORM pgstaging.run_ddl(format('COMMENT ON TABLE %s IS %L', p_production,
            format('pgstaging: production %s; written only by promote_%s_staging(run_id)', v_table, v_table)));
    END IF;
END
$function$;

-- The judged view: the rules, readable by whoever may read staging.
-- Replaced in place, so views users build on it survive a re-install;
-- only a spec that changes its columns drops it (a dependent view then
-- refuses, 2BP01, rather than being dropped).
CREATE OR REPLACE FUNCTION pgstaging.create_judged_view(p_table name, p_judge text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_view text := format('pgstaging.%I', p_table || '_staging_judged');
BEGIN
    BEGIN
        PERFORM pgstaging.run_ddl(format('CREATE OR REPLACE VIEW %s AS %s', v_view, p_judge));
    EXCEPTION WHEN invalid_table_definition THEN
        PERFORM pgstaging.run_ddl(format('DROP VIEW %s', v_view));
        PERFORM pgstaging.run_ddl(format('CREATE VIEW %s AS %s', v_view, p_judge));
    END;
    PERFORM pgstaging.run_ddl(format('COMMENT ON VIEW %s IS %L', v_view,
        format('pgstaging: %s rules; one row per staged row with normalized fields and errors', p_table)));
END
$function$;

-- The settings every entry point pins, written once.
CREATE OR REPLACE FUNCTION pgstaging.pinned_settings_sql()
RETURNS text
LANGUAGE sql
IMMUTABLE
RETURN 'SET search_path = pg_catalog, pg_temp SET "TimeZone" = ''UTC'' SET "DateStyle" = ''ISO, YMD'''
    || ' SET standard_conforming_strings = on';

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

-- The table's entry points, thin and pinned: the logic is in
-- pgstaging.run_promotion and run_unpromotion. Older signatures go.
CREATE OR REPLACE FUNCTION pgstaging.create_entry_points(p_schema name, p_table name)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_staging name := p_table || '_staging';
    v_entry record;
    v_old text;
    v_new text;
BEGIN
    FOR v_entry IN
        SELECT e.*
        FROM (VALUES
            ('promote_', 'p_workflow_run_id integer, p_dry_run boolean DEFAULT false, p_interaction_id bigint DEFAULT NULL,'
                || ' p_ignore_gate boolean DEFAULT false',
             '(integer, boolean, bigint, boolean)',
             'pgstaging.run_promotion(%L, p_workflow_run_id, ''promote'', p_dry_run, NULL, p_interaction_id, p_ignore_gate)',
             'pgstaging: validate, de-duplicate and promote one run''s pending %s; returns the design''s summary JSON'),
            ('retry_', 'p_workflow_run_id integer, p_interaction_id bigint DEFAULT NULL, p_ignore_gate boolean DEFAULT false',
             '(integer, bigint, boolean)',
             'pgstaging.run_promotion(%L, p_workflow_run_id, ''retry'', false, NULL, p_interaction_id, p_ignore_gate)',
             'pgstaging: re-judge a run''s failed %s rows under the current rules and data; promote those that pass'),
            ('unpromote_', 'p_workflow_run_id integer, p_reason text DEFAULT NULL, p_cascade boolean DEFAULT false,'
                || ' p_interaction_id bigint DEFAULT NULL',
             '(integer, text, boolean, bigint)',
             'pgstaging.run_unpromotion(%L, p_workflow_run_id, p_reason, p_cascade, p_interaction_id)',
             'pgstaging: take a run''s %s promotions back out of production; staged rows are kept, marked rolled back')
        ) AS e (prefix, arguments, signature, body, comment)
    LOOP
        PERFORM pgstaging.run_ddl(format(E'CREATE OR REPLACE FUNCTION %I.%I(%s)\nRETURNS jsonb LANGUAGE sql SECURITY DEFINER\n%s\nRETURN %s',
            p_schema, v_entry.prefix || v_staging, v_entry.arguments, pgstaging.pinned_settings_sql(),
            format(v_entry.body, p_table)));
        PERFORM pgstaging.run_ddl(format('REVOKE ALL ON FUNCTION %I.%I%s FROM PUBLIC', p_schema, v_entry.prefix || v_staging,
                                         v_entry.signature));
        PERFORM pgstaging.run_ddl(format('COMMENT ON FUNCTION %I.%I%s IS %L', p_schema, v_entry.prefix || v_staging,
                                         v_entry.signature, format(v_entry.comment, p_table)));
    END LOOP;
    -- 0.1.0's signatures: whoever could call them can call the new ones.
    FOR v_old, v_new IN
        SELECT format('%I.%I%s', p_schema, o.prefix || v_staging, o.old), format('%I.%I%s', p_schema, o.prefix || v_staging, o.new)
        FROM (VALUES ('promote_', '(integer)', '(integer, boolean, bigint, boolean)'),
                     ('promote_', '(integer, boolean)', '(integer, boolean, bigint, boolean)'),
                     ('retry_', '(integer)', '(integer, bigint, boolean)'),
                     ('unpromote_', '(integer, text, boolean)', '(integer, text, boolean, bigint)')) AS o (prefix, old, new)
    LOOP
        PERFORM pgstaging.replace_function_keeping_grants(v_old, v_new);
    END LOOP;
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.run_ddl(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.ensure_index(name, name, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.ensure_production_table(name, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.ensure_staging_table(name, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.ensure_staging_guards(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.ensure_production_keys(regclass, regclass, jsonb, jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.create_judged_view(name, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.create_entry_points(name, name) FROM PUBLIC;
