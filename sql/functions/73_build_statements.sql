-- The generator, step 3: pure builders of the promotion statements, from
-- the judge (build_judge_sql) and a few names. The parameters are the
-- contract of pgstaging.statement_parameters().

-- The summary of one statement's marked rows, in the design's form: exact
-- counts (one pass) and, per outcome, the first $5 rows by staging_id (a
-- top-N sort each, not a sort of the whole run). p_updated adds
-- updated_count and details.updated.
CREATE OR REPLACE FUNCTION pgstaging.build_summary_sql(p_id_column name, p_updated boolean)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.format($sql$
counted AS (
    SELECT
        count(*) FILTER (WHERE m.outcome = 'promoted') AS promoted,
        count(*) FILTER (WHERE m.outcome = 'duplicate') AS duplicate,
        count(*) FILTER (WHERE m.outcome = 'updated') AS updated,
        count(*) FILTER (WHERE m.outcome = 'failed') AS failed
    FROM marked AS m
)
SELECT jsonb_build_object(
    'status', 'SUCCESS',
    'promoted_count', c.promoted,
    'duplicate_count', c.duplicate,%2$s
    'failed_count', c.failed,
    'details', jsonb_build_object(%1$s
    )
) || CASE WHEN greatest(c.promoted, c.duplicate, c.updated, c.failed) > $5
          THEN jsonb_build_object('details_truncated', true) ELSE '{}' END
FROM counted AS c$sql$,
    (SELECT string_agg(pg_catalog.format($item$
        %1$L, (
            SELECT coalesce(jsonb_agg(jsonb_build_object('staging_id', d.staging_id, %3$L, d.%4$s) ORDER BY d.staging_id), '[]')
            FROM (
                SELECT m.staging_id, m.%4$s FROM marked AS m
                WHERE m.outcome = %2$L ORDER BY m.staging_id LIMIT $5
            ) AS d
        )$item$, l.list, l.outcome, l.label, l.value), ',' ORDER BY l.ord)
     FROM (VALUES (1, 'promoted', 'promoted', p_id_column, 'promoted_to_id'),
                  (2, 'duplicates', 'duplicate', p_id_column, 'promoted_to_id'),
                  (3, 'failed', 'failed', 'errors', 'validation_errors'),
                  (4, 'updated', 'updated', p_id_column, 'promoted_to_id')) AS l (ord, list, outcome, label, value)
     WHERE l.outcome <> 'updated' OR p_updated),
    CASE WHEN p_updated THEN E'\n    ''updated_count'', c.updated,' ELSE '' END
);

-- Marking: one UPDATE of staging from the verdicts a statement gives
-- (staging_id, errors, production_id, outcome), then its summary. Joined
-- by staging_id alone: the verdicts come from rows the judge chose by
-- mode, and whoever judges a run's rows holds its run lock. (A second
-- "outcome IS NULL" here would match the pending index, which statistics
-- taken when nothing was pending put at one row: a nested loop from it
-- rescans the verdicts per row.)
CREATE OR REPLACE FUNCTION pgstaging.build_mark_sql(p_staging text, p_verdicts text, p_summary text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.format($sql$
marked AS (
    -- every judged row gets its verdict
    UPDATE %1$s AS s
    SET validated = true,
        validated_at = now(),
        validated_by = session_user,
        rule_version = $3,
        validation_errors = v.errors,
        promoted = v.errors IS NULL,
        promoted_to_id = v.production_id,
        promoted_at = CASE WHEN v.errors IS NULL THEN now() END,
        rolled_back_at = NULL,
        rolled_back_by = NULL,
        rollback_reason = NULL,
        outcome = v.outcome
    FROM %2$s AS v
    WHERE s.staging_id = v.staging_id
    RETURNING s.staging_id, s.outcome, s.promoted_to_id, s.validation_errors
),%3$s$sql$, p_staging, p_verdicts, p_summary);

-- Statement 1, inserts: valid rows, one per key (the first staged under
-- skip, the newest under update), go into production in key order (so
-- validators of overlapping runs cannot deadlock), and the rows it wrote
-- are marked promoted (or updated) straight from RETURNING, joined by
-- staging_id only: no join between the statement's own results, which the
-- planner cannot estimate. In staging_id order: staging's physical order.
CREATE OR REPLACE FUNCTION pgstaging.build_insert_sql(
    p_production text,
    p_staging text,
    p_id_column name,
    p_policy text,
    p_columns text [],
    p_key_judged text [],
    p_key_conflict text [],
    p_judge text
)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.format($sql$WITH inserted AS (
    -- valid rows, one per natural key, into production
    INSERT INTO %1$s AS p (
        %2$s,
        created_by_staging_id,
        created_by_interaction_id
    )
    SELECT DISTINCT ON (%3$s)
        %4$s,
        j.staging_id,
        j.interaction_id
    FROM (
%5$s
    ) AS j
    WHERE j.errors IS NULL AND $2 NOT LIKE '%%failures'
    ORDER BY %3$s, j.staging_id%6$s
    ON CONFLICT (%7$s) DO %8$s
    RETURNING p.%9$I AS production_id, %10$s
),%11$s$sql$,
    p_production,
    (SELECT string_agg(pg_catalog.format('%I', c), E',\n        ') FROM unnest(p_columns) AS c),
    array_to_string(p_key_judged, ', '),
    (SELECT string_agg(pg_catalog.format('j.%I', c), E',\n        ') FROM unnest(p_columns) AS c),
    p_judge,
    -- skip: the first staged row of a key wins; update: the newest.
    CASE p_policy WHEN 'skip' THEN '' ELSE ' DESC' END,
    array_to_string(p_key_conflict, ', '),
    CASE p_policy WHEN 'skip' THEN 'NOTHING' ELSE pg_catalog.format(
        E'UPDATE SET (\n        %s,\n        updated_by_staging_id,\n        updated_by_interaction_id,\n        updated_at\n    ) = ROW(\n        %s,\n        excluded.created_by_staging_id,\n        excluded.created_by_interaction_id,\n        now()\n    )\n    WHERE (%s) IS DISTINCT FROM (%s)',
        (SELECT string_agg(pg_catalog.format('%I', c), E',\n        ') FROM unnest(p_columns) AS c),
        (SELECT string_agg(pg_catalog.format('excluded.%I', c), E',\n        ') FROM unnest(p_columns) AS c),
        (SELECT string_agg(pg_catalog.format('p.%I', c), ', ') FROM unnest(p_columns) AS c),
        (SELECT string_agg(pg_catalog.format('excluded.%I', c), ', ') FROM unnest(p_columns) AS c)) END,
    p_id_column,
    -- An inserted row has no updated_by_staging_id; an updated one has ours.
    CASE p_policy WHEN 'skip' THEN 'p.created_by_staging_id AS staging_id, ''promoted'' AS outcome'
        ELSE 'coalesce(p.updated_by_staging_id, p.created_by_staging_id) AS staging_id,'
             ' CASE WHEN p.updated_by_staging_id IS NULL THEN ''promoted'' ELSE ''updated'' END AS outcome' END,
    pgstaging.build_mark_sql(p_staging,
        '(SELECT i.staging_id, NULL::jsonb AS errors, i.production_id, i.outcome FROM inserted AS i ORDER BY i.staging_id)',
        pgstaging.build_summary_sql(p_id_column, p_policy = 'update'))
);

-- The last statement, with a fresh snapshot, gives the rest of the
-- inserts their verdicts: failures, and valid rows whose key production
-- already has (duplicates). A valid row whose key has no production row
-- yet (staged after statement 1's snapshot) stays pending.
CREATE OR REPLACE FUNCTION pgstaging.build_verdict_sql(
    p_production text,
    p_staging text,
    p_id_column name,
    p_policy text,
    p_key_match text [],
    p_judge text
)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.format($sql$WITH verdict AS (
    -- failures, and valid rows whose key production has
    SELECT
        j.staging_id,
        j.errors,
        p.%1$I AS production_id,
        CASE
            WHEN j.errors IS NOT NULL THEN 'failed'
            WHEN p.created_by_staging_id = j.staging_id THEN 'promoted'
            WHEN p.updated_by_staging_id = j.staging_id THEN 'updated'
            ELSE 'duplicate'
        END AS outcome
    FROM (
%2$s
    ) AS j
    LEFT JOIN %3$s AS p ON j.errors IS NULL AND %4$s
    WHERE j.errors IS NOT NULL OR (p.%1$I IS NOT NULL AND $2 NOT LIKE '%%failures')
),%5$s$sql$,
    p_id_column, p_judge, p_production, array_to_string(p_key_match, ' AND '),
    pgstaging.build_mark_sql(p_staging, 'verdict', pgstaging.build_summary_sql(p_id_column, p_policy = 'update'))
);

-- Before patches are judged: lock the production rows they name, in key
-- order (as inserts take them), so that what the patch statement reads is
-- the latest row and stays so: runs promoted concurrently end as if one
-- after another.
CREATE OR REPLACE FUNCTION pgstaging.build_patch_lock_sql(
    p_production text,
    p_key_match text [],
    p_key_order text [],
    p_judge text
)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.format($sql$SELECT count(*)
FROM (
    -- the production rows the pending patches name, locked in key order
    SELECT 1
    FROM (
%1$s
    ) AS j
    INNER JOIN %2$s AS p ON %3$s
    ORDER BY %4$s
    FOR UPDATE OF p
) AS locked$sql$,
    p_judge, p_production, array_to_string(p_key_match, ' AND '), array_to_string(p_key_order, ', '));

-- The patch statement: each patch is applied to its production row (or to
-- the row an insert of the same call created), the patches of one row in
-- staging_id order. A field a patch leaves out keeps its value: the value
-- before a patch is the last earlier valid patch's, else production's.
-- Row rules judge the row as it would be after the patch; a patch after
-- one that a row rule refused fails too ("follows a failed patch"), so
-- nothing a refused patch carried reaches production. Only the last
-- changing patch of a row writes it: its after-state holds every earlier
-- one. A patch that changes nothing is a duplicate.
CREATE OR REPLACE FUNCTION pgstaging.build_patch_sql(
    p_production text,
    p_staging text,
    p_id_column name,
    p_fields jsonb,
    p_rules jsonb,
    p_key_match text [],
    p_judge text
)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_columns text [] := ARRAY(
        SELECT f.value ->> 'column_name' FROM jsonb_array_elements(p_fields) WITH ORDINALITY AS f (value, ord) ORDER BY f.ord
    );
    v_patchable text [] := ARRAY(
        SELECT f.value ->> 'column_name' FROM jsonb_array_elements(p_fields) WITH ORDINALITY AS f (value, ord)
        WHERE NOT (f.value ->> 'is_key')::boolean ORDER BY f.ord
    );
    v_key_label text := (
        SELECT f.value ->> 'label' FROM jsonb_array_elements(p_fields) WITH ORDINALITY AS f (value, ord)
        WHERE (f.value ->> 'is_key')::boolean ORDER BY f.ord LIMIT 1
    );
BEGIN
    RETURN format($sql$WITH target AS (
    -- each patch, and the production row its key names
    SELECT
        j.*,
        p.%1$I AS production_id,
        %2$s
    FROM (
%3$s
    ) AS j
    LEFT JOIN %4$s AS p ON %5$s
),
chained AS (
    -- what earlier valid patches of the same row set, field by field
    SELECT
        t.*,
        %6$s
    FROM target AS t
    WINDOW earlier AS (PARTITION BY t.production_id ORDER BY t.staging_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
stated AS (
    -- the row before and after each patch; rules see it by column name
    SELECT
        c.staging_id,
        c.interaction_id,
        c.production_id,
        c.errors AS field_errors,
        %7$s
    FROM chained AS c
),
ruled AS (
    -- row rules, on found rows whose fields passed
    SELECT
        stated.*,
        CASE
            WHEN stated.field_errors IS NOT NULL THEN stated.field_errors
            WHEN stated.production_id IS NULL THEN pgstaging.field_error(%8$L, 'not found')
            ELSE nullif('[]'::jsonb%9$s, '[]'::jsonb)
        END AS errors
    FROM stated
),
verdict AS (
    -- failed, updated (changes something) or duplicate (changes nothing)
    SELECT
        r.staging_id,
        r.interaction_id,
        r.production_id,
        coalesce(r.errors, CASE WHEN bool_or(r.field_errors IS NULL AND r.errors IS NOT NULL) OVER earlier
                                THEN pgstaging.field_error(%8$L, 'follows a failed patch') END) AS errors,
        %10$s
    FROM ruled AS r
    WINDOW earlier AS (PARTITION BY r.production_id ORDER BY r.staging_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
judged AS (
    SELECT
        v.*,
        CASE WHEN v.errors IS NOT NULL THEN 'failed' WHEN v.changed THEN 'updated' ELSE 'duplicate' END AS outcome
    FROM verdict AS v
),
written AS (
    -- each row once: the after-state of its last changing patch
    UPDATE %4$s AS p
    SET (
        %11$s,
        updated_by_staging_id,
        updated_by_interaction_id,
        updated_at
    ) = ROW(
        %12$s,
        w.staging_id,
        w.interaction_id,
        now()
    )
    FROM (
        SELECT DISTINCT ON (j.production_id) j.*
        FROM judged AS j
        WHERE j.outcome = 'updated' AND $2 NOT LIKE '%%failures'
        ORDER BY j.production_id, j.staging_id DESC
    ) AS w
    WHERE p.%1$I = w.production_id
    RETURNING p.%1$I
),%13$s$sql$,
        p_id_column,
        array_to_string(ARRAY(SELECT format('p.%I AS %I', c, c || '__current') FROM unnest(v_columns) AS c), E',\n        '),
        p_judge,
        p_production,
        array_to_string(p_key_match, ' AND '),
        coalesce(nullif(array_to_string(ARRAY(
            SELECT format('array_agg(t.%1$I) FILTER (WHERE t.%2$I AND t.errors IS NULL) OVER earlier AS %3$I',
                          c, c || '__carried', c || '__earlier')
            FROM unnest(v_patchable) AS c), E',\n        '), ''), 'NULL AS no_fields'),
        array_to_string(ARRAY(
            SELECT format('%s AS %I', CASE WHEN c = ANY (v_patchable)
                THEN format('CASE WHEN cardinality(c.%1$I) > 0 THEN c.%1$I[cardinality(c.%1$I)] ELSE c.%2$I END',
                            c || '__earlier', c || '__current')
                ELSE format('c.%I', c || '__current') END, c || '__before')
            FROM unnest(v_columns) AS c)
            || ARRAY(
            SELECT format('%s AS %I', CASE WHEN c = ANY (v_patchable)
                THEN format('CASE WHEN c.%1$I THEN c.%2$I WHEN cardinality(c.%3$I) > 0 THEN c.%3$I[cardinality(c.%3$I)] ELSE c.%4$I END',
                            c || '__carried', c, c || '__earlier', c || '__current')
                ELSE format('c.%I', c || '__current') END, c)
            FROM unnest(v_columns) AS c), E',\n        '),
        v_key_label,
        coalesce((
            SELECT string_agg(format(
                E'\n                || CASE WHEN (%s) IS FALSE THEN pgstaging.field_error(%L, %L) ELSE ''[]'' END',
                r.value ->> 'check', r.value ->> 'field', r.value ->> 'error'), '' ORDER BY r.ord)
            FROM jsonb_array_elements(coalesce(p_rules, '[]')) WITH ORDINALITY AS r (value, ord)), ''),
        array_to_string(ARRAY(SELECT format('r.%I', c) FROM unnest(v_columns) AS c), E',\n        ') || E',\n        '
        || format('(%s) IS DISTINCT FROM (%s) AS changed',
            (SELECT string_agg(format('r.%I', c), ', ') FROM unnest(v_columns) AS c),
            (SELECT string_agg(format('r.%I', c || '__before'), ', ') FROM unnest(v_columns) AS c)),
        array_to_string(ARRAY(SELECT format('%I', c) FROM unnest(v_columns) AS c), E',\n        '),
        array_to_string(ARRAY(SELECT format('w.%I', c) FROM unnest(v_columns) AS c), E',\n        '),
        pgstaging.build_mark_sql(p_staging,
            '(SELECT j.staging_id, j.errors, CASE WHEN j.errors IS NULL THEN j.production_id END AS production_id, j.outcome'
            || E'\n          FROM judged AS j WHERE $2 NOT LIKE ''%%failures'' OR j.errors IS NOT NULL)',
            pgstaging.build_summary_sql(p_id_column, true))
    );
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.build_summary_sql(name, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.build_mark_sql(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.build_insert_sql(text, text, name, text, text [], text [], text [], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.build_verdict_sql(text, text, name, text, text [], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.build_patch_lock_sql(text, text [], text [], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.build_patch_sql(text, text, name, jsonb, jsonb, text [], text) FROM PUBLIC;
