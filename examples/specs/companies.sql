-- A fifth staged table, as a user would add one: one spec, then
--   pgstaging install --spec examples/specs/companies.sql
-- Companies are keyed by their registry number; a re-fetched company with
-- changed fields updates production (on_duplicate: update), keeping who
-- changed it and what it was before.
SELECT pgstaging.register_staged_table($spec$
{
    "table": "companies",
    "id_column": "company_id",
    "natural_key": ["registry_number"],
    "on_duplicate": "update",
    "fields": [
        {"column": "registry_number", "source": "registry", "type": "text", "required": true,
         "normalize": ["trim", "upper"], "pattern": "^[A-Z]{2}[0-9]{4,10}$"},
        {"column": "name", "type": "text", "required": true, "max_length": 300,
         "normalize": ["trim", "collapse_whitespace"]},
        {"column": "employees", "type": "integer", "min": 0},
        {"column": "founded", "type": "date", "min": "1600-01-01"},
        {"column": "listed", "type": "boolean", "default": "false"},
        {"column": "revenue_eur", "type": "numeric", "min": 0},
        {"column": "last_seen_at", "type": "timestamptz"}
    ],
    "rules": [
        {"field": "employees", "error": "a listed company has employees",
         "check": "NOT listed OR coalesce(employees, 0) > 0"}
    ]
}
$spec$::jsonb);
