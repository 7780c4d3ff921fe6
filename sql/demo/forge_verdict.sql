-- What a sly script might do: stage a row that claims to be validated.
INSERT INTO postings_staging (workflow_run_id, raw_data, validated, promoted)
VALUES (%(workflow_run_id)s, '{"job_id": "FORGED"}', true, true)
