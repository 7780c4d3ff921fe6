"""The history scenario: health, status, metrics and promotion as staging's history grows.

Run from ``bench/run.py`` (``make bench``, ``make bench-smoke``), or alone inside a
throwaway cluster: ``python -m pgstaging.devcluster -- python bench/history.py``.

History is bulk-loaded by the superuser with triggers off
(``session_replication_role = replica``): small judged rows, all older than a
day. The last day's volume is the same at every size (one 10,000-row run staged
and promoted as usual), so health should cost the same at every size.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import psycopg
from common import execute, login_url, query, timed, urls
from pgstaging.client import StagingClient

FULL_SIZES = (10_000, 1_000_000, 5_000_000)
SMOKE_SIZES = (1_000, 5_000)
FULL_LOG_ROWS = (1_000, 1_000_000, 1_000_000)
SMOKE_LOG_ROWS = (100, 2_000)


def _median(runs: list[float]) -> float:
    return statistics.median(runs)


class History:
    def __init__(self, owner_url: str, admin_url: str, actor_id: int, smoke: bool, log) -> None:
        self.owner_url = owner_url
        self.admin_url = admin_url
        self.validator_url = login_url(owner_url, "validator_login")
        self.reader_url = login_url(owner_url, "reader_login")
        self.actor_id = actor_id
        self.smoke = smoke
        self.log = log
        self.sizes = SMOKE_SIZES if smoke else FULL_SIZES
        self.log_rows = SMOKE_LOG_ROWS if smoke else FULL_LOG_ROWS
        self.day_rows = 1_000 if smoke else 10_000
        self.call_rows = 100 if smoke else 1_000
        self.loaded = 0
        self.loaded_log = 0
        self.rows: list[dict[str, Any]] = []

    def _new_run(self) -> int:
        with StagingClient.connect(self.owner_url) as client:
            return client.start_run()

    def _stage(self, prefix: str, rows: int) -> int:
        run = self._new_run()
        params = {"workflow_run_id": run, "actor_id": self.actor_id, "prefix": prefix, "rows": rows}
        assert execute(self.owner_url, "generate.sql", params) == rows
        return run

    def _load(self, rows: int, log_rows: int) -> None:
        """Untimed: bring history up to ``rows`` staged rows and ``log_rows`` log rows."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(query("history_replica.sql"))
            if rows > self.loaded:
                params = {"rows": rows - self.loaded, "actor_id": self.actor_id}
                conn.execute(query("history_load.sql"), params)
                self.loaded = rows
            if log_rows > self.loaded_log:
                conn.execute(query("history_log.sql"), {"rows": log_rows - self.loaded_log})
                self.loaded_log = log_rows
        execute(self.owner_url, "history_vacuum.sql")
        execute(self.admin_url, "checkpoint.sql")

    def _repeat(self, step: Callable[[], Any]) -> float:
        runs = []
        for _ in range(1 if self.smoke else 3):
            with timed() as t:
                step()
            runs.append(t.seconds)
        return _median(runs)

    def _health(self) -> list[Any]:
        with psycopg.connect(self.reader_url) as conn:
            return conn.execute(query("history_health.sql")).fetchall()

    def _buffers(self, name: str) -> int:
        """Shared buffers hit or read by one EXPLAIN (ANALYZE, BUFFERS) of bench/<name>."""
        with psycopg.connect(self.reader_url) as conn:
            try:
                (plan,) = conn.execute(query(name)).fetchone()
            except psycopg.errors.UndefinedFunction:  # measuring a tree without metrics
                return 0
        top = (plan[0] if isinstance(plan, list) else json.loads(plan)[0])["Plan"]
        return int(top.get("Shared Hit Blocks", 0)) + int(top.get("Shared Read Blocks", 0))

    def _status(self) -> None:
        env = {**os.environ, "DATABASE_URL": self.reader_url}
        subprocess.run(
            [sys.executable, "-m", "pgstaging", "status", "--json"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def _metrics(self) -> int:
        with psycopg.connect(self.reader_url) as conn:
            try:
                return len(conn.execute(query("history_metrics.sql")).fetchall())
            except psycopg.errors.UndefinedFunction:  # measuring a tree without metrics
                return 0

    def _call(self, what: Callable[[StagingClient], Any]) -> float:
        with StagingClient.connect(self.validator_url) as client, timed() as t:
            what(client)
        return t.seconds

    def measure(self, size: int, log_rows: int) -> dict[str, Any]:
        self._load(size, log_rows)
        health_rows = self._health()
        row: dict[str, Any] = {
            "history": size,
            "log_rows": log_rows,
            "call_rows": self.call_rows,
            "health": self._repeat(self._health),
            "health_buffers": self._buffers("history_explain.sql"),
            "status": self._repeat(self._status),
            "metrics": self._repeat(self._metrics),
            "metrics_buffers": self._buffers("history_explain_metrics.sql"),
            "health_result": [list(map(str, r[:4])) for r in health_rows],
        }
        run = self._stage(f"hist{size}", self.call_rows)
        execute(self.owner_url, "history_vacuum.sql")
        row["promote"] = self._call(lambda c: c.promote("postings", run))
        row["retry"] = self._call(lambda c: c.retry("postings", run))
        row["unpromote"] = self._call(lambda c: c.unpromote("postings", run, reason="bench"))
        self._stage(f"histb{size}", self.call_rows)
        execute(self.owner_url, "history_vacuum.sql")
        row["batch"] = self._call(lambda c: c.promote_batch("postings", self.call_rows))
        self.log(
            "history {history:,}: health {health:.3f} s ({health_buffers} buffers), "
            "status {status:.3f} s, metrics {metrics:.4f} s ({metrics_buffers} buffers), "
            "promote {promote:.3f} s, "
            "retry {retry:.3f} s, unpromote {unpromote:.3f} s, batch {batch:.3f} s".format(**row)
        )
        return row

    def run(self) -> list[dict[str, Any]]:
        # The last day: one ordinary run, staged and promoted.
        day = self._stage("day", self.day_rows)
        with StagingClient.connect(self.validator_url) as client:
            client.promote("postings", day)
        for size, log_rows in zip(self.sizes, self.log_rows, strict=True):
            self.rows.append(self.measure(size, log_rows))
        return self.rows


def markdown(rows: list[dict[str, Any]]) -> str:
    n = f"{rows[0]['call_rows']:,}" if rows else ""
    lines = [
        "| history rows | log rows | `health()` | buffers | `status` (CLI) | `metrics()` | buffers "
        f"| promote {n} | retry | unpromote | batch claim {n} |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['history']:,} | {r['log_rows']:,} | {r['health'] * 1000:.0f} ms "
            f"| {r['health_buffers']:,} | {r['status'] * 1000:.0f} ms "
            f"| {r['metrics'] * 1000:.1f} ms | {r['metrics_buffers']:,} "
            f"| {r['promote'] * 1000:.0f} ms "
            f"| {r['retry'] * 1000:.0f} ms | {r['unpromote'] * 1000:.0f} ms "
            f"| {r['batch'] * 1000:.0f} ms |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--sizes", help="comma-separated history sizes (default: the bench's)")
    parser.add_argument(
        "--drop-health-indexes", action="store_true", help="measure without them (the before)"
    )
    parser.add_argument(
        "--promoted-to-index", action="store_true", help="what-if: index staging.promoted_to_id"
    )
    args = parser.parse_args(argv)
    import pgstaging
    from common import create_logins

    owner_url, admin_url = urls()
    pgstaging.install(owner_url)
    create_logins(admin_url)
    execute(owner_url, "setup.sql")
    with StagingClient.connect(owner_url) as client:
        actor_id = client.register_actor("bench_fetcher")

    def log(message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)

    if args.drop_health_indexes:
        execute(owner_url, "history_drop_indexes.sql")
    if args.promoted_to_index:
        execute(owner_url, "history_promoted_to_index.sql")
    history = History(owner_url, admin_url, actor_id, args.smoke, log)
    if args.sizes:
        history.sizes = tuple(int(s) for s in args.sizes.split(","))
        history.log_rows = tuple(min(s, 1_000_000) for s in history.sizes)
    rows = history.run()
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
