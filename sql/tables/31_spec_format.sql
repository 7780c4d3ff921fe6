-- The spec format: sql/spec.schema.json, loaded here by the installer (the
-- install step install/load_spec_format.sql, with the file's text), so the
-- database checks specs against the very file editors validate with.
CREATE TABLE IF NOT EXISTS pgstaging.spec_format (
    name text PRIMARY KEY,
    document jsonb NOT NULL
);
