-- The run report reads every part in one snapshot.
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY
