-- The floor runs as the owner, past the write guards, as pgstaging's own
-- functions do (sql/functions/20_guards.sql: owner + this flag).
SET LOCAL pgstaging.writer = 'on'
