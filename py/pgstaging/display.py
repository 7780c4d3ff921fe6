"""Readable tables for the CLI and the demo (rich)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from pgstaging.client import DirectWriter, Failure, GuardStatus, Health, RunStatus


def print_table(table: Table) -> None:
    Console().print(table)


def status_table(workflow_run_id: int, rows: Sequence[RunStatus]) -> Table:
    table = Table(title=f"workflow run {workflow_run_id}")
    columns = ("staged", "pending", "promoted", "duplicate", "updated", "failed", "rolled_back")
    table.add_column("table")
    for column in columns:
        table.add_column(column.replace("_", " "), justify="right")
    for r in rows:
        table.add_row(r.table_name, *(str(getattr(r, column)) for column in columns))
    return table


def failures_table(table_name: str, workflow_run_id: int, failures: Sequence[Failure]) -> Table:
    table = Table(title=f"{table_name}: failed rows of run {workflow_run_id}")
    table.add_column("staging_id", justify="right")
    table.add_column("errors")
    table.add_column("raw_data", overflow="ellipsis", max_width=60)
    for f in failures:
        errors = ", ".join(f"{e['field']}: {e['error']}" for e in f.validation_errors)
        table.add_row(str(f.staging_id), errors, json.dumps(f.raw_data, ensure_ascii=False)[:200])
    return table


def health_tables(rows: Sequence[Health]) -> list[Table]:
    """The backlog per table, then the last day's failures and unknown keys."""
    backlog = Table(title="staged tables: backlog and the last day")
    for column in ("table", "pending", "oldest pending", "judged", "failed", "failure rate"):
        backlog.add_column(column, justify="left" if column == "table" else "right")
    details = Table(title="failures by field and error, by actor; unknown raw_data keys (last day)")
    for column in ("table", "field: error", "actor: failed/judged", "unknown keys"):
        details.add_column(column)
    for h in rows:
        rate = "" if h.failure_rate is None else f"{float(h.failure_rate):.1%}"
        age = "" if h.oldest_pending_age is None else str(h.oldest_pending_age).split(".")[0]
        backlog.add_row(
            h.table_name, str(h.pending_count), age, str(h.judged_count), str(h.failed_count), rate
        )
        if h.failures_by_error or h.failures_by_actor or h.unknown_keys:
            details.add_row(
                h.table_name,
                "\n".join(
                    f"{e['field']}: {e['error']} ({e['count']})" for e in h.failures_by_error
                ),
                "\n".join(
                    f"{a['actor_id']}: {a['failed']}/{a['judged']}" for a in h.failures_by_actor
                ),
                "\n".join(f"{k['key']} ({k['rows']})" for k in h.unknown_keys),
            )
    return [backlog, details] if details.row_count else [backlog]


def guard_tables(guards: Sequence[GuardStatus], writers: Sequence[DirectWriter]) -> list[Table]:
    """Guard modes, and who wrote production directly: can we enforce yet?"""
    modes = Table(title="guards: mode, rows without a staged origin, direct writes (last day)")
    for column in ("table", "mode", "adopted", "rows without staged origin", "direct writes"):
        modes.add_column(column, justify="left" if column in ("table", "mode") else "right")
    for g in guards:
        modes.add_row(
            g.table_name,
            g.mode,
            "yes" if g.adopted else "",
            str(g.unstaged_rows),
            str(g.direct_writes_last_day),
        )
    if not writers:
        return [modes]
    who = Table(title="direct writers in the last 7 days, by login and application name")
    for column in ("table", "login", "application", "statements", "rows", "last seen"):
        who.add_column(column, justify="right" if column in ("statements", "rows") else "left")
    for w in writers:
        who.add_row(
            w.table_name,
            w.login,
            w.application_name,
            str(w.statements),
            str(w.row_count),
            str(w.last_seen).split(".")[0],
        )
    return [modes, who]
