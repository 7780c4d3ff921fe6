-- Benchmark helpers, run by the owner: a schema of their own and the one
-- data generator every benchmark uses (ingest, promotion, floor, memory).
CREATE SCHEMA IF NOT EXISTS bench;

-- Staged posting number p_i (1, 2, ...) of the data set p_prefix. Keys are
-- unique per prefix, so data sets never collide with each other.
--   5% invalid  (p_i % 20 = 3): job_id missing, title missing, or title
--               501 characters, in turn. Kinds the design's validator also
--               handles (it crashes on non-string fields, so none of those).
--  10% duplicate (p_i % 10 = 7): the job_id of a valid earlier row of the
--               same data set, spread over the whole set, never an invalid one.
--  85% new keys.
-- Descriptions are about 1.5 KB (46 x 33 characters); documents about 1.6 KB.
CREATE OR REPLACE FUNCTION bench.posting_document(p_prefix text, p_i bigint)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
RETURN (
    SELECT CASE
        WHEN p_i % 20 = 3 AND (p_i / 20) % 3 = 0 THEN d.doc - 'job_id'
        WHEN p_i % 20 = 3 AND (p_i / 20) % 3 = 1 THEN d.doc - 'title'
        WHEN p_i % 20 = 3 THEN pg_catalog.jsonb_set(d.doc, '{title}', pg_catalog.to_jsonb(pg_catalog.repeat('x', 501)))
        ELSE d.doc
    END
    FROM (
        SELECT pg_catalog.jsonb_build_object(
            'job_id', p_prefix || '-' || k.key_number,
            'title', 'Senior Data Engineer ' || p_i,
            'description', pg_catalog.repeat(pg_catalog.md5(p_i::text) || ' ', 46),
            'location', 'Frankfurt am Main',
            'url', 'https://careers.example.com/jobs/' || p_prefix || '-' || k.key_number
        ) AS doc
        FROM (
            SELECT CASE
                -- p_i - 1 - 10m ends in 6: neither invalid (3) nor a duplicate (7).
                WHEN p_i % 10 = 7 THEN p_i - 1 - 10 * ((p_i * 2654435761) % ((p_i - 7) / 10 + 1))
                ELSE p_i
            END AS key_number
        ) AS k
    ) AS d
);

-- The ingest ceiling: the same COPY into a bare table, with no index,
-- foreign key, trigger or default to pay for.
CREATE TABLE IF NOT EXISTS bench.ingest_ceiling (
    workflow_run_id integer,
    actor_id integer,
    interaction_id bigint,
    raw_data jsonb
);
