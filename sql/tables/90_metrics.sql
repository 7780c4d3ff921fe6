-- Counters behind pgstaging.metrics(), kept as calls happen, so a scrape
-- never sums the promotion log. Each call appends delta rows (no shared
-- row is updated, so validators running in parallel never wait on each
-- other); whoever gets the fold lock row folds committed deltas into the
-- totals. A scrape reads totals plus the few deltas not folded yet.
CREATE TABLE IF NOT EXISTS pgstaging.metric_totals (
    name text NOT NULL,
    labels jsonb NOT NULL,
    value double precision NOT NULL,
    PRIMARY KEY (name, labels)
);

CREATE TABLE IF NOT EXISTS pgstaging.metric_deltas (
    delta_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    labels jsonb NOT NULL,
    value double precision NOT NULL
);

-- One row, locked FOR UPDATE SKIP LOCKED by the folder (a table row, not an
-- advisory key: no script can take it).
CREATE TABLE IF NOT EXISTS pgstaging.metric_fold_lock (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    seeded_at timestamptz NOT NULL DEFAULT now()
);

-- Every fold deletes the deltas and updates the totals: vacuum both after a
-- few hundred dead rows, not a fifth of the table, so scrapes stay small.
ALTER TABLE pgstaging.metric_deltas SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 500);
ALTER TABLE pgstaging.metric_totals SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 500);
