-- Registry of staged tables: what the CLI and the generic calls dispatch on.
CREATE TABLE IF NOT EXISTS pgstaging.staged_tables (
    table_name name PRIMARY KEY,
    production_table regclass NOT NULL,
    staging_table regclass NOT NULL,
    promote_function regprocedure NOT NULL
);

