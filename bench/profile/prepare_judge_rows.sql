-- The judged rows themselves, for judge_temp.sql.
PREPARE judge_rows (integer, text, integer, bigint []) AS
SELECT j.* FROM ({judge}) AS j
