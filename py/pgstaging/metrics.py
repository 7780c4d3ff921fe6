"""Prometheus metrics: ``pgstaging.metrics()`` in the text format, and a tiny server.

The values come from SQL (``sql/client/metrics.sql``); this module only groups
the rows into metric families for ``prometheus_client`` and serves them.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from pgstaging import sqlfiles
from pgstaging.errors import translate

Row = tuple[str, dict[str, Any], float]

HELP = {
    "pgstaging_pending_rows": "Staged rows waiting for a verdict.",
    "pgstaging_oldest_pending_age_seconds": "Age of the oldest pending staged row (0 if none).",
    "pgstaging_staged_rows_total": "Verdicts given to staged rows, by outcome.",
    "pgstaging_promotions_total": "Promote, retry, batch and unpromote calls, by action.",
    "pgstaging_promotion_duration_seconds": "Duration of promote, retry and batch calls.",
    "pgstaging_failed_rows_total": "Errors of failed staged rows, by field and error.",
    "pgstaging_alerts_total": "Alerts raised (rows of pgstaging.alerts).",
}
HISTOGRAM = "pgstaging_promotion_duration_seconds"


def fetch(conninfo: str) -> list[Row]:
    """The rows of ``pgstaging.metrics()``, over a connection of its own."""
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            return [
                (name, labels, float(value))
                for name, labels, value in conn.execute(sqlfiles.query("client/metrics.sql"))
            ]
    except psycopg.Error as error:
        raise translate(error) from error


def _label_names(rows: list[Row]) -> list[str]:
    names: list[str] = []
    for _, labels, _ in rows:
        for key in labels:
            if key not in names:
                names.append(key)
    return names


def families(rows: Iterable[Row]) -> Iterator[Metric]:
    """Group rows into counter, gauge and histogram families."""
    by_name: dict[str, list[Row]] = defaultdict(list)
    histogram: dict[tuple[str, ...], dict[str, Any]] = {}
    for row in rows:
        name, labels, value = row
        if name.startswith(HISTOGRAM + "_"):
            part = name[len(HISTOGRAM) + 1 :]
            key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            entry = histogram.setdefault(key, {"buckets": {}, "sum": 0.0})
            if part == "bucket":
                entry["buckets"][labels["le"]] = value
            elif part == "sum":
                entry["sum"] = value
        else:
            by_name[name].append(row)
    for name, group in by_name.items():
        label_names = _label_names(group)
        doc = HELP.get(name, name)
        if name.endswith("_total"):
            family: Metric = CounterMetricFamily(name, doc, labels=label_names)
        else:
            family = GaugeMetricFamily(name, doc, labels=label_names)
        for _, labels, value in group:
            family.add_metric([str(labels.get(k, "")) for k in label_names], value)
        yield family
    if histogram:
        family = HistogramMetricFamily(HISTOGRAM, HELP[HISTOGRAM], labels=["table"])
        for key, entry in sorted(histogram.items()):
            labels = dict(key)
            buckets = sorted(entry["buckets"].items(), key=lambda b: float(b[0]))
            family.add_metric([labels.get("table", "")], buckets, entry["sum"])
        yield family


class _Rows:
    """A collector over rows fetched once."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def collect(self) -> Iterator[Metric]:
        return families(self.rows)


def exposition(rows: list[Row]) -> bytes:
    """The Prometheus text format of ``rows``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Rows(rows))  # type: ignore[arg-type]
    return generate_latest(registry)


def make_server(conninfo: str, host: str, port: int) -> ThreadingHTTPServer:
    """A server for ``/metrics`` (a fresh query per scrape) and ``/healthz``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                try:
                    body, status, kind = exposition(fetch(conninfo)), 200, CONTENT_TYPE_LATEST
                except Exception as error:  # the scrape fails, the server stays up
                    body, status, kind = f"{error}\n".encode(), 503, "text/plain"
            elif path == "/healthz":
                body, status, kind = _healthz(conninfo)
            else:
                body, status, kind = b"not found\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: no access log
            pass

    return ThreadingHTTPServer((host, port), Handler)


def _healthz(conninfo: str) -> tuple[bytes, int, str]:
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sqlfiles.query("client/healthz.sql")).fetchone()
    except psycopg.Error as error:
        return f"database unreachable: {' '.join(str(error).split())}\n".encode(), 503, "text/plain"
    return b"ok\n", 200, "text/plain"


def serve_in_thread(conninfo: str, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Start the server in a daemon thread (tests); ``server.server_address`` has the port."""
    server = make_server(conninfo, host, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
