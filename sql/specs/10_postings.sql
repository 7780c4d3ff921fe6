-- Postings: the job fetcher's output. The design's rules, made strict:
-- job_id (string or integer) and title required; title at most 500
-- characters; everything trimmed. Errors keep the design's field names.
SELECT pgstaging.register_packaged_spec($spec$
{
    "table": "postings",
    "id_column": "posting_id",
    "natural_key": ["external_job_id"],
    "on_duplicate": "skip",
    "fields": [
        {"column": "external_job_id", "source": "job_id", "type": "text", "required": true,
         "accept_integer": true, "max_length": 200},
        {"column": "source_website", "type": "text", "default": "deutsche_bank", "max_length": 200},
        {"column": "job_title", "source": "title", "type": "text", "required": true, "max_length": 500},
        {"column": "job_description", "source": "description", "type": "text"},
        {"column": "company_name", "type": "text", "default": "Deutsche Bank", "max_length": 500},
        {"column": "location", "type": "text"}
    ]
}
$spec$::jsonb);
