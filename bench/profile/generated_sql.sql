SELECT t.insert_sql, t.verdict_sql FROM pgstaging.staged_tables AS t WHERE t.table_name = 'postings'
