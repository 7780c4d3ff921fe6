-- The generated judge query alone: the rules over one run's pending rows,
-- which each of promotion's two statements evaluates. bench/profile.py cuts
-- it from the generated INSERT and puts it in the slot below.
PREPARE judge_count (integer, text, integer, bigint []) AS
SELECT count(*) AS judged, count(j.errors) AS failed FROM ({judge}) AS j
