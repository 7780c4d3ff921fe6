-- pgstaging's own view of each run: its state, who started and ended it.
-- The workflow engine's workflow_runs is never altered; this table sits beside.
DO $runs$
BEGIN
    IF pg_catalog.to_regclass('pgstaging.runs') IS NULL THEN
        CREATE TABLE pgstaging.runs (
            workflow_run_id integer PRIMARY KEY REFERENCES workflow_runs (workflow_run_id),
            workflow_id integer,
            status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
            started_at timestamptz NOT NULL DEFAULT now(),
            ended_at timestamptz,
            -- NULL: pgstaging did not see the start (a gate failed the run first).
            started_by name DEFAULT session_user,
            ended_by name,
            -- Why the run failed, when pgstaging failed it (a gate's verdict).
            failure_reason jsonb,
            CONSTRAINT runs_ended_check CHECK ((status = 'running') = (ended_at IS NULL))
        );
        COMMENT ON TABLE pgstaging.runs IS
        'pgstaging: each run''s state (running, succeeded, failed); written by start_run, end_run and mark_run_failed';
    END IF;
END
$runs$;
