-- Load a JSON Schema file of the repository (sql/spec.schema.json) into
-- pgstaging.spec_format; an unchanged file changes nothing.
INSERT INTO pgstaging.spec_format AS f (name, document)
VALUES (%(name)s, %(document)s::jsonb)
ON CONFLICT (name) DO UPDATE
SET document = excluded.document
WHERE f.document IS DISTINCT FROM excluded.document
