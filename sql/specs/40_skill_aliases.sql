-- Skill aliases: the skill mapper's output, alias -> canonical. Aliases are
-- unique case-insensitively and may not map to themselves.
SELECT pgstaging.register_packaged_spec($spec$
{
    "table": "skill_aliases",
    "id_column": "skill_alias_id",
    "natural_key": ["alias"],
    "on_duplicate": "skip",
    "fields": [
        {"column": "alias", "type": "text", "required": true, "max_length": 200,
         "normalize": ["trim", "collapse_whitespace"], "case_insensitive": true},
        {"column": "canonical", "type": "text", "required": true, "max_length": 200,
         "normalize": ["trim", "collapse_whitespace"]}
    ],
    "rules": [
        {"field": "canonical", "error": "maps to itself", "check": "lower(alias) <> lower(canonical)"}
    ]
}
$spec$::jsonb);
