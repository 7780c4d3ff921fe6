-- The parser's and the skill extractor's input: the postings the validator
-- promoted (the read right: production columns, no staged raw data).
SELECT p.posting_id, p.external_job_id, p.job_description
FROM postings AS p
WHERE p.posting_id = ANY (%(posting_ids)s)
ORDER BY p.posting_id
