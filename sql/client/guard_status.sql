-- Each staged table's guard mode, whether it was adopted, its rows without
-- a staged origin, and its direct writes over the last day.
SELECT
    t.table_name,
    coalesce(g.mode, 'enforce') AS mode,
    coalesce(g.adopted, false) AS adopted,
    pgstaging.unstaged_row_count(t.table_name) AS unstaged_rows,
    (SELECT count(*) FROM pgstaging.direct_writes AS d
     WHERE d.table_name = t.table_name AND d.written_at > now() - interval '1 day') AS direct_writes_last_day
FROM pgstaging.staged_tables AS t
LEFT JOIN pgstaging.guard_modes AS g ON t.table_name = g.table_name
ORDER BY t.table_name
