-- A registered spec, its rule versions, and what it generated.
SELECT t.table_name, t.rule_version, t.spec, t.judge_sql, t.insert_sql, t.patch_lock_sql, t.patch_sql, t.verdict_sql,
       coalesce((SELECT jsonb_agg(jsonb_build_object('rule_version', v.rule_version, 'registered_by', v.registered_by,
                                                     'registered_at', v.registered_at) ORDER BY v.rule_version)
                 FROM pgstaging.rule_versions AS v WHERE v.table_name = t.table_name), '[]') AS versions
FROM pgstaging.staged_table(%(table)s) AS t
