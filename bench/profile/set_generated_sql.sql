UPDATE pgstaging.staged_tables
SET insert_sql = %(insert_sql)s, verdict_sql = %(verdict_sql)s
WHERE table_name = 'postings'
