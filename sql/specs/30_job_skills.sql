-- Job skills: the job skill extractor's output. The posting is named by
-- posting_id or by its external job_id, and must already be in postings.
SELECT pgstaging.register_packaged_spec($spec$
{
    "table": "job_skills",
    "id_column": "job_skill_id",
    "natural_key": ["posting_id", "skill"],
    "on_duplicate": "skip",
    "fields": [
        {"column": "posting_id", "label": "posting", "required": true,
         "references": {"table": "postings", "id": "posting_id",
                        "by": {"posting_id": "posting_id", "job_id": "external_job_id"}}},
        {"column": "skill", "type": "text", "required": true, "max_length": 200,
         "normalize": ["trim", "collapse_whitespace"], "case_insensitive": true},
        {"column": "importance", "type": "text", "default": "required", "normalize": ["trim", "lower"],
         "one_of": ["required", "preferred"]}
    ]
}
$spec$::jsonb);
