"""``pgstaging report``: one self-contained HTML page about a run.

Every query is in ``sql/client/report_*.sql``; the page is a Jinja2 template
with autoescape on, so text that came from scripts (raw data, errors) is
always text. Charts are inline SVG; a Content-Security-Policy forbids every
fetch and every script, so the page works offline and nothing in it runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from pgstaging import __version__, sqlfiles
from pgstaging.errors import translate

ROW_LIMIT = 200  # rows shown per failure group and per duplicates list
BAR_WIDTH = 360  # pixels of the longest bar


@dataclass
class TableReport:
    table_name: str
    ledger: dict[str, Any]
    failure_groups: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def chart(self) -> dict[str, Any]:
        """Bars of the failure groups, laid out for the SVG."""
        top = max((g["row_count"] for g in self.failure_groups), default=0)
        bars = [
            {
                "label": f"{g['field']}: {g['error']}",
                "count": g["row_count"],
                "width": max(2, round(BAR_WIDTH * g["row_count"] / top)) if top else 0,
                "y": 28 * i,
            }
            for i, g in enumerate(self.failure_groups)
        ]
        return {"bars": bars, "height": 28 * len(bars) + 4, "bar_width": BAR_WIDTH}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pgstaging", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    return env


def _fetch(conn: psycopg.Connection, query: sql.Composable, params: dict[str, Any]) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()


def gather(conn: psycopg.Connection, workflow_run_id: int, table: str | None) -> dict[str, Any]:
    """Everything the page shows, read in one REPEATABLE READ snapshot."""
    params = {"workflow_run_id": workflow_run_id, "table": table, "row_limit": ROW_LIMIT}
    # One REPEATABLE READ, read-only snapshot for every part of the page.
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    try:
        with conn.transaction():
            ledger = {
                r["table_name"]: r
                for r in _fetch(conn, sqlfiles.query("client/report_ledger.sql"), params)
            }
            tables = []
            for t in _fetch(conn, sqlfiles.query("client/report_tables.sql"), params):
                staging = sql.Identifier(t["staging_schema"], t["staging_name"])
                production = sql.Identifier(t["production_schema"], t["production_name"])
                report = TableReport(t["table_name"], ledger[t["table_name"]])
                report.failure_groups = _fetch(
                    conn,
                    sqlfiles.query("client/report_failure_groups.sql").format(
                        staging_table=staging
                    ),
                    params,
                )
                report.duplicates = _fetch(
                    conn,
                    sqlfiles.query("client/report_duplicates.sql").format(
                        staging_table=staging,
                        production_table=production,
                        id_column=sql.Identifier(t["id_column"]),
                    ),
                    params,
                )
                tables.append(report)
            log = _fetch(conn, sqlfiles.query("client/report_log.sql"), params)
            alerts = _fetch(conn, sqlfiles.query("client/report_alerts.sql"), params)
    except psycopg.Error as error:
        raise translate(error) from error
    return {
        "workflow_run_id": workflow_run_id,
        "table": table,
        "tables": tables,
        "log": log,
        "alerts": alerts,
        "row_limit": ROW_LIMIT,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "version": __version__,
        "database": conn.info.dbname,
    }


def render(data: dict[str, Any]) -> str:
    return _environment().get_template("report.html.j2").render(**data)


def write_report(
    conn: psycopg.Connection, workflow_run_id: int, table: str | None, output: str | Path
) -> Path:
    path = Path(output)
    path.write_text(render(gather(conn, workflow_run_id, table)), encoding="utf-8")
    return path
