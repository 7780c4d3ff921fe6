-- Superuser only: no triggers, no foreign-key checks in this session.
SET session_replication_role = replica
