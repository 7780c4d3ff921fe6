-- What a buggy script might do: write production directly.
INSERT INTO postings (external_job_id, source_website, job_title)
VALUES ('HACK-1', 'evil', 'Injected posting')
