"""Readable tables for the CLI and the demo (rich)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from pgstaging.client import Failure, RunStatus


def print_table(table: Table) -> None:
    Console().print(table)


def status_table(workflow_run_id: int, rows: Sequence[RunStatus]) -> Table:
    table = Table(title=f"workflow run {workflow_run_id}")
    for column in ("table", "staged", "pending", "promoted", "duplicate", "failed"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for r in rows:
        table.add_row(r.table_name, str(r.staged), str(r.pending), str(r.promoted),
                      str(r.duplicate), str(r.failed))
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
