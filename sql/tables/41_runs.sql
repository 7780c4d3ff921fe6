-- pgstaging's own view of each run: its state, who started it. The
-- workflow engine's workflow_runs is never altered; this table sits beside.
CREATE TABLE IF NOT EXISTS pgstaging.runs (
    workflow_run_id integer PRIMARY KEY REFERENCES workflow_runs (workflow_run_id),
    workflow_id integer,
    status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    started_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    started_by name NOT NULL DEFAULT session_user,
    CONSTRAINT runs_ended_check CHECK ((status = 'running') = (ended_at IS NULL))
);
