-- Every alert, kept: a listener that was away catches up from here
-- (pgstaging watch --since ALERT_ID). Written in the caller's transaction.
CREATE TABLE IF NOT EXISTS pgstaging.alerts (
    alert_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sent_at timestamptz NOT NULL DEFAULT now(),
    payload jsonb NOT NULL
);
