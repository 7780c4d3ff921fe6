-- Superuser: log every statement over 20 ms, nested ones too (the function's),
-- with actual rows, buffers and trigger times, to the client as NOTICEs; then
-- act as the owner.
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 20;
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_triggers = on;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = notice;
SET ROLE pgstaging_owner
