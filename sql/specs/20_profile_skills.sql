-- Profile skills: the skill extractor's output. One row per (profile,
-- skill), skills compared case-insensitively.
SELECT pgstaging.register_packaged_spec($spec$
{
    "table": "profile_skills",
    "id_column": "profile_skill_id",
    "natural_key": ["profile_id", "skill"],
    "on_duplicate": "skip",
    "fields": [
        {"column": "profile_id", "type": "integer", "required": true, "min": 1},
        {"column": "skill", "type": "text", "required": true, "max_length": 200,
         "normalize": ["trim", "collapse_whitespace"], "case_insensitive": true},
        {"column": "proficiency", "type": "text", "normalize": ["trim", "lower"],
         "one_of": ["beginner", "intermediate", "advanced", "expert"]}
    ]
}
$spec$::jsonb);
