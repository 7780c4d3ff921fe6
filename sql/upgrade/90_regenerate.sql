-- Statements and functions of every staged table, from its current spec:
-- an upgrade brings a new generator, and tables the owner registered by
-- hand must get it too. An unchanged spec keeps its rule version.
SELECT pgstaging.regenerate_staged_tables();
