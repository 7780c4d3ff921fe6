-- Who still writes production directly ("can we enforce yet?"): by table,
-- login and application name, over the last %(days)s days.
SELECT
    d.table_name,
    d.session_user_name AS login,
    coalesce(d.application_name, '') AS application_name,
    count(*) AS statements,
    sum(d.row_count)::bigint AS row_count,
    max(d.written_at) AS last_seen
FROM pgstaging.direct_writes AS d
WHERE d.written_at > now() - make_interval(days => %(days)s)
GROUP BY 1, 2, 3
ORDER BY 1, 4 DESC, 2, 3
