-- The generator, step 2: pure builders that turn a spec's typed field rows
-- (pgstaging.spec_fields, as a jsonb array) into SQL text. They read no
-- table and change nothing, so each is tested on its own (sql/tests/08).
--
-- The parameter contract of every generated statement, written once:
--   $1 integer   the run (NULL in batch mode)
--   $2 text      the mode: pending | retry | pending-failures | retry-failures
--                (retry re-judges failed and rolled back rows; *-failures,
--                used when a gate holds a run, marks only failures)
--   $3 integer   the rule version verdicts record
--   $4 bigint[]  the staging ids of a batch (NULL for a run)
--   $5 integer   the cap on each details list of the summary
CREATE OR REPLACE FUNCTION pgstaging.statement_parameters()
RETURNS text
LANGUAGE sql
IMMUTABLE
RETURN '(integer, text, integer, bigint[], integer)';

-- Which staged rows a statement judges: by run or batch, by mode, by operation.
CREATE OR REPLACE FUNCTION pgstaging.build_filter_sql(p_operation text)
RETURNS text
LANGUAGE sql
IMMUTABLE
RETURN pg_catalog.format(
    '($1 IS NULL OR s.workflow_run_id = $1)'
    || E'\n      AND ($4 IS NULL OR s.staging_id = ANY ($4))'
    || E'\n      AND CASE WHEN $2 LIKE ''retry%%'' THEN s.outcome IN (''failed'', ''rolled_back'') ELSE s.outcome IS NULL END'
    || E'\n      AND s.operation = %L',
    p_operation);

-- The judge query over staged rows. Levels, innermost first:
--   raw      each raw key's jsonb value, and each field's typed, normalized
--            candidate (NULL when absent, blank or not convertible);
--   checked  each field's value (candidate, lookup, default) and error code;
--   folded   the error codes as [{"field", "error"}]; then row rules, which
--            see the normalized values by column name.
-- OFFSET 0 keeps each level's expressions computed once per row.
-- A patch (p_patch) is judged on the fields it carries only: every other
-- field keeps its production value, and a field outside the actor's patch
-- right is "not patchable". Row rules of patches are judged later, on the
-- row as it would be after the patch (build_patch_sql).
CREATE OR REPLACE FUNCTION pgstaging.build_judge_sql(
    p_table name,
    p_staging text,
    p_fields jsonb,
    p_rules jsonb,
    p_filter text,
    p_patch boolean DEFAULT false
)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    -- Raw keys, each once, in the order the fields first name them.
    v_keys text [] := ARRAY(
        SELECT k.key
        FROM jsonb_array_elements(p_fields) WITH ORDINALITY AS f (value, ord)
        CROSS JOIN LATERAL jsonb_array_elements_text(f.value -> 'keys') WITH ORDINALITY AS k (key, n)
        GROUP BY k.key
        ORDER BY min(f.ord * 1000 + k.n)
    );
    v_columns text [] := ARRAY(
        SELECT f.value ->> 'column_name' FROM jsonb_array_elements(p_fields) WITH ORDINALITY AS f (value, ord) ORDER BY f.ord
    );
    -- Non-key fields: what a patch may carry.
    v_patchable text [] := ARRAY(
        SELECT f.value ->> 'column_name' FROM jsonb_array_elements(p_fields) WITH ORDINALITY AS f (value, ord)
        WHERE NOT (f.value ->> 'is_key')::boolean ORDER BY f.ord
    );
    v_common text [] := ARRAY['staging_id', 'workflow_run_id', 'interaction_id', 'actor_id', 'outcome'];
    v_raw text [];
    v_checked text [];
    v_folded text [];
    v_judged text [];
    v_fold text;
    v_clean text;
    v_rules text := '';
    v_joins text := '';
BEGIN
    -- raw: provenance, the raw keys, then each field's candidate(s).
    v_raw := ARRAY(SELECT 's.' || c FROM unnest(v_common) AS c)
        || ARRAY['jsonb_typeof(s.raw_data) = ''object'' AS is_object']
        || ARRAY(SELECT format('r.%I', k) FROM unnest(v_keys) WITH ORDINALITY AS u (k, n) ORDER BY n)
        || ARRAY(SELECT x.item FROM jsonb_array_elements(p_fields) WITH ORDINALITY AS f (value, ord)
                 CROSS JOIN LATERAL jsonb_array_elements_text(f.value -> 'raw_items') WITH ORDINALITY AS x (item, n)
                 ORDER BY f.ord, x.n);
    -- The whole document, only where a field tells a null from an absent key.
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_fields) AS f WHERE f.value ->> 'error_sql' LIKE '%raw.document\_\_raw%') THEN
        v_raw := v_raw || ARRAY['s.raw_data AS document__raw'];
    END IF;
    v_checked := ARRAY(SELECT 'raw.' || c FROM unnest(v_common) AS c) || ARRAY['raw.is_object']
        || ARRAY(SELECT format('%s AS %I', f.value ->> 'value_sql', f.value ->> 'column_name')
                 FROM jsonb_array_elements(p_fields) WITH ORDINALITY AS f (value, ord) ORDER BY f.ord);
    v_folded := ARRAY(SELECT 'checked.' || c FROM unnest(v_common) AS c)
        || ARRAY(SELECT format('checked.%I', c) FROM unnest(v_columns) AS c);
    v_judged := ARRAY(SELECT 'folded.' || c FROM unnest(v_common) AS c)
        || ARRAY(SELECT format('folded.%I', c) FROM unnest(v_columns) AS c);
    v_fold := (
        SELECT string_agg(format(E'\n                || pgstaging.field_error(%L, checked.%I)', f.value ->> 'label',
                                 (f.value ->> 'column_name') || '__error'), '' ORDER BY f.ord)
        FROM jsonb_array_elements(p_fields) WITH ORDINALITY AS f (value, ord)
    );

    IF NOT p_patch THEN
        v_checked := v_checked || ARRAY(
            SELECT format('%s AS %I', f.value ->> 'error_sql', (f.value ->> 'column_name') || '__error')
            FROM jsonb_array_elements(p_fields) WITH ORDINALITY AS f (value, ord) ORDER BY f.ord);
        -- Most rows are valid: they skip building the error array.
        v_clean := (
            SELECT string_agg(format('checked.%I IS NULL', (f.value ->> 'column_name') || '__error'),
                              E'\n                AND ' ORDER BY f.ord)
            FROM jsonb_array_elements(p_fields) WITH ORDINALITY AS f (value, ord)
        );
        -- Row rules judge only rows whose fields all passed.
        v_rules := coalesce((
            SELECT string_agg(format(
                E'\n        || CASE WHEN folded.field_errors = ''[]'' AND (%s) IS FALSE THEN pgstaging.field_error(%L, %L) ELSE ''[]'' END',
                r.value ->> 'check', r.value ->> 'field', r.value ->> 'error'), '' ORDER BY r.ord)
            FROM jsonb_array_elements(coalesce(p_rules, '[]')) WITH ORDINALITY AS r (value, ord)), '');
    ELSE
        -- A patch carries the fields whose raw keys it names, and is judged
        -- on those (and its key) only; its patch right says which it may.
        v_raw := v_raw || ARRAY['patch_right.actor_id IS NOT NULL AS has_patch_right', 'patch_right.fields AS patchable']
            || ARRAY(SELECT format('s.raw_data ?| %L::text[] AS %I', ARRAY(SELECT jsonb_array_elements_text(f.value -> 'keys')),
                                   (f.value ->> 'column_name') || '__carried')
                     FROM jsonb_array_elements(p_fields) WITH ORDINALITY AS f (value, ord)
                     WHERE NOT (f.value ->> 'is_key')::boolean ORDER BY f.ord);
        v_checked := v_checked || ARRAY['raw.has_patch_right', 'raw.patchable']
            || ARRAY(SELECT format('raw.%I', c || '__carried') FROM unnest(v_patchable) AS c)
            || ARRAY(
                SELECT format('%s AS %I',
                    CASE WHEN (f.value ->> 'is_key')::boolean THEN f.value ->> 'error_sql'
                         ELSE format('CASE WHEN raw.%I THEN %s END', (f.value ->> 'column_name') || '__carried', f.value ->> 'error_sql')
                    END, (f.value ->> 'column_name') || '__error')
                FROM jsonb_array_elements(p_fields) WITH ORDINALITY AS f (value, ord) ORDER BY f.ord);
        v_folded := v_folded || ARRAY(SELECT format('checked.%I', c || '__carried') FROM unnest(v_patchable) AS c);
        v_judged := v_judged || ARRAY(SELECT format('folded.%I', c || '__carried') FROM unnest(v_patchable) AS c);
        v_joins := format(E'\n            LEFT JOIN pgstaging.actor_rights AS patch_right'
            || E'\n                ON patch_right.actor_id = s.actor_id AND patch_right.table_name = %L'
            || ' AND patch_right.right_name = ''patch''',
            p_table);
        -- Outside the right: "not patchable" (a NULL actor is the owner's row;
        -- a right without a field list covers every non-key field). Nothing
        -- carried: an empty patch.
        v_fold := v_fold || coalesce((
            SELECT string_agg(format(
                E'\n                || CASE WHEN checked.%1$I AND checked.actor_id IS NOT NULL'
                || E'\n                          AND NOT coalesce(checked.has_patch_right AND checked.patchable IS NULL'
                ' OR checked.patchable && %2$L::text[], false)'
                || E'\n                        THEN pgstaging.field_error(%3$L, ''not patchable'') ELSE ''[]'' END',
                (f.value ->> 'column_name') || '__carried',
                ARRAY(SELECT jsonb_array_elements_text(f.value -> 'keys'))
                    || ARRAY[f.value ->> 'column_name', f.value ->> 'label'],
                f.value ->> 'label'), '' ORDER BY f.ord)
            FROM jsonb_array_elements(p_fields) WITH ORDINALITY AS f (value, ord)
            WHERE NOT (f.value ->> 'is_key')::boolean), '')
            || format(E'\n                || CASE WHEN NOT (%s) THEN pgstaging.field_error(''raw_data'', ''missing'') ELSE ''[]'' END',
                      coalesce((SELECT string_agg(format('checked.%I', c || '__carried'), ' OR ') FROM unnest(v_patchable) AS c),
                               'false'));
        v_clean := 'false';
    END IF;

    RETURN format($sql$SELECT
    %1$s,
    nullif(folded.field_errors%2$s, '[]'::jsonb) AS errors
FROM (
    -- folded: the error codes as [{"field", "error"}]
    SELECT
        %3$s,
        CASE
            WHEN NOT checked.is_object THEN pgstaging.field_error('raw_data', 'not an object')
            WHEN %4$s THEN '[]'::jsonb
            ELSE '[]'::jsonb%5$s
        END AS field_errors
    FROM (
        -- checked: each field's value and error code
        SELECT
            %6$s
        FROM (
            -- raw: the raw values and their typed, normalized candidates
            SELECT
                %7$s
            FROM %8$s AS s
            CROSS JOIN LATERAL jsonb_to_record(
                CASE WHEN jsonb_typeof(s.raw_data) = 'object' THEN s.raw_data ELSE '{}'::jsonb END
            ) AS r (%9$s)%10$s
            WHERE %11$s
            OFFSET 0
        ) AS raw%12$s
        OFFSET 0
    ) AS checked
    OFFSET 0
) AS folded$sql$,
        array_to_string(v_judged, E',\n    '),
        v_rules,
        array_to_string(v_folded, E',\n        '),
        v_clean,
        v_fold,
        array_to_string(v_checked, E',\n            '),
        array_to_string(v_raw, E',\n                '),
        p_staging,
        (SELECT string_agg(format('%I jsonb', k), ', ' ORDER BY n) FROM unnest(v_keys) WITH ORDINALITY AS u (k, n)),
        v_joins,
        p_filter,
        (SELECT coalesce(string_agg(E'\n        ' || x.lookup, '' ORDER BY f.ord, x.n), '')
         FROM jsonb_array_elements(p_fields) WITH ORDINALITY AS f (value, ord)
         CROSS JOIN LATERAL jsonb_array_elements_text(f.value -> 'lookups') WITH ORDINALITY AS x (lookup, n))
    );
END
$function$;

REVOKE ALL ON FUNCTION pgstaging.build_filter_sql(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstaging.build_judge_sql(name, text, jsonb, jsonb, text, boolean) FROM PUBLIC;
