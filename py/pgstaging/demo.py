"""``make demo``: the staging safety net, end to end, as a story.

With no DATABASE_URL it runs on a throwaway local cluster; with one, it uses
that database (as its owner) and leaves the demo's rows and logins there.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import ExitStack
from importlib import resources

import psycopg
from psycopg.conninfo import make_conninfo
from rich.console import Console
from rich.table import Table

from pgstaging import sqlfiles
from pgstaging.client import StagingClient
from pgstaging.display import status_table
from pgstaging.installer import install

console = Console()


def _documents(name: str) -> list:
    text = (resources.files("pgstaging") / "data" / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _connect_as(owner_url: str, login: str) -> tuple[psycopg.Connection, str]:
    """Log in as ``login``; if the server wants a password, SET ROLE instead.

    PGSTAGING_DEMO_SET_ROLE=1 takes the fallback at once (the tests do).
    """
    if os.environ.get("PGSTAGING_DEMO_SET_ROLE") != "1":
        try:
            return psycopg.connect(make_conninfo(owner_url, user=login)), "login"
        except psycopg.OperationalError:
            pass
    conn = psycopg.connect(owner_url)
    conn.execute(sqlfiles.query("demo/set_role.sql"), {"role": login})
    conn.commit()
    return conn, "SET ROLE"


def _attempt(conn: psycopg.Connection, name: str, params: dict | None = None) -> str:
    try:
        with conn.transaction():
            conn.execute(sqlfiles.query(name), params)
    except psycopg.Error as error:
        return f"[red]refused[/red] SQLSTATE {error.sqlstate}: {error.diag.message_primary}"
    return "[bold red]ALLOWED (this is a bug)[/bold red]"


def _verdict_table(conn: psycopg.Connection, run_id: int) -> Table:
    table = Table(title=f"postings_staging, run {run_id}: every staged row and its verdict")
    for column in ("staging_id", "job_id", "outcome", "posting_id", "errors", "inserted_by"):
        table.add_column(column)
    colour = {"promoted": "green", "duplicate": "yellow", "failed": "red", "pending": "blue"}
    rows = conn.execute(sqlfiles.query("demo/staged_rows.sql"), {"workflow_run_id": run_id})
    for staging_id, job_id, outcome, posting_id, errors, inserted_by in rows:
        reasons = ", ".join(f"{e['field']}: {e['error']}" for e in errors or [])
        table.add_row(
            str(staging_id),
            (job_id or "")[:12],
            f"[{colour[outcome]}]{outcome}[/]",
            "" if posting_id is None else str(posting_id),
            reasons,
            inserted_by,
        )
    conn.rollback()
    return table


def run(owner_url: str) -> None:
    result = install(owner_url)
    console.print(
        f"1. installed pgstaging {result.version} "
        f"({'new install' if result.changed else 'already up to date'})"
    )

    with psycopg.connect(owner_url, autocommit=True) as owner:
        owner.execute(sqlfiles.query("demo/logins.sql"))
        script_role, validator_role = owner.execute(
            sqlfiles.query("demo/group_roles.sql")
        ).fetchone()
        client = StagingClient(owner)
        actor_id = client.actor_id("db_job_fetcher")
        first_run, second_run = client.start_run(), client.start_run()
    console.print(
        f"2. logins [bold]demo_fetcher[/] ({script_role}, actor db_job_fetcher with stage "
        f"on postings) and [bold]demo_validator[/] ({validator_role}) are ready; "
        f"runs {first_run} and {second_run} started"
    )

    with ExitStack() as stack:
        fetcher, how = _connect_as(owner_url, "demo_fetcher")
        stack.enter_context(fetcher)
        validator, _ = _connect_as(owner_url, "demo_validator")
        stack.enter_context(validator)
        script, trusted = StagingClient(fetcher), StagingClient(validator)

        ids = script.stage("postings", first_run, actor_id, _documents("demo_run1.jsonl"))
        trusted.promote("postings", first_run)
        console.print(
            f"3. run {first_run}: the fetcher ({how}) staged {len(ids)} postings; "
            "the validator promoted them"
        )

        ids = script.stage("postings", second_run, actor_id, _documents("demo_run2.jsonl"))
        console.print(
            f"4. run {second_run}: the fetcher staged {len(ids)} rows, good, "
            "duplicate and broken alike:"
        )
        console.print(
            "   " + json.dumps({"status": "SUCCESS", "staging_ids": ids, "count": len(ids)})
        )

        summary = trusted.promote("postings", second_run)
        console.print(
            f"5. [bold]SELECT promote_postings_staging({second_run})[/] as the validator: "
            f"{summary.promoted_count} promoted, {summary.duplicate_count} duplicate, "
            f"{summary.failed_count} failed"
        )
        console.print(_verdict_table(validator, second_run))
        console.print(status_table(second_run, [r for r in trusted.status(second_run) if r.staged]))

        console.print("6. the boundary, enforced by the database:")
        console.print(
            "   script writes postings directly:  " + _attempt(fetcher, "demo/direct_write.sql")
        )
        console.print(
            "   script reads staged raw_data:     " + _attempt(fetcher, "demo/read_staging.sql")
        )
        console.print(
            "   script forges a validated row:    "
            + _attempt(fetcher, "demo/forge_verdict.sql", {"workflow_run_id": second_run})
        )
        again = trusted.promote("postings", second_run)
        console.print(
            f"7. promoting run {second_run} again changes nothing: "
            f"{again.promoted_count} promoted, {again.duplicate_count} duplicate, "
            f"{again.failed_count} failed. Failed rows stay in staging, with reasons, "
            f"for `pgstaging failures postings --run {second_run}`."
        )


def main() -> int:
    url = os.environ.get("DATABASE_URL")
    if url:
        console.print(
            f"Using DATABASE_URL ({make_conninfo(url, password=None) or 'libpq defaults'})"
        )
        run(url)
        return 0
    from pgstaging.devcluster import temp_cluster

    console.print("No DATABASE_URL: starting a throwaway PostgreSQL cluster")
    with temp_cluster() as cluster:
        run(cluster.url())
    return 0


if __name__ == "__main__":
    sys.exit(main())
