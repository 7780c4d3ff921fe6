"""pgstaging benchmarks: one run, one database, side by side.

    make bench         full sizes (several minutes on 2 cores)
    make bench-smoke   tiny sizes, every code path, seconds (CI)

Both run inside ``python -m pgstaging.devcluster --``, which sets
DATABASE_URL (the owner, no superuser) and PGSTAGING_ADMIN_URL (superuser).

Measured:
- ingest rows/s: the design's fetcher (one INSERT and one commit per row;
  a connection per row as written, and a kinder variant on one connection)
  against StagingClient.stage (batched INSERT .. unnest, returns ids) and
  StagingClient.stage_copy (COPY), all into postings_staging as a script login;
- promotion rows/s: the design's row-by-row validator on a sample, against
  promote_postings_staging (called as a validator login) and the floor
  (bench/floor_*.sql: one de-duplicating INSERT and one UPDATE, no rules) on
  an equivalent copy of the data;
- scale: promotion and floor time at three sizes (5% invalid, 10% duplicate);
- memory: peak RSS of a Python process staging rows via stage_copy from a
  generator, at two sizes.

Prints a table and the targets (PASS/FAIL); writes bench/results/results.json,
results.md and bench.png. Exit status 0 unless something broke (--strict:
1 when a target fails).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import design
import history
import pgstaging
import psycopg
import report
from common import (
    BENCH_DIR,
    RESULTS_DIR,
    cpu_seconds,
    create_logins,
    documents,
    execute,
    login_url,
    query,
    timed,
    urls,
)
from pgstaging.client import StagingClient
from pgstaging.errors import PgStagingError
from psycopg.rows import dict_row


@dataclass(frozen=True)
class Sizes:
    fetcher_rows: int  # each fetcher variant (one commit per row)
    validator_rows: int  # the design validator's sample (a connection per record)
    validator_repeats: int  # its speed varies run to run: the median counts
    ingest_rows: int  # stage and stage_copy
    scale: tuple[int, int, int]  # promotion and floor; the middle one is "100k"
    repeats: tuple[int, int, int]  # per scale size, alternating floor/promotion order
    memory_rows: tuple[int, int]  # stage_copy from a generator, in a child process


FULL = Sizes(
    fetcher_rows=3_000,
    validator_rows=1_000,
    validator_repeats=3,
    ingest_rows=100_000,
    scale=(10_000, 100_000, 1_000_000),
    repeats=(2, 2, 1),
    memory_rows=(100_000, 1_000_000),
)
SMOKE = Sizes(
    fetcher_rows=50,
    validator_rows=50,
    validator_repeats=1,
    ingest_rows=2_000,
    scale=(200, 1_000, 2_000),
    repeats=(1, 1, 1),
    memory_rows=(200, 2_000),
)


@dataclass
class Measurement:
    key: str
    section: str
    what: str
    rows: int
    seconds: float
    note: str = ""
    runs: list[float] = field(default_factory=list)
    cpu: float | None = None  # server backend CPU seconds, where measured

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else float("inf")


class Bench:
    def __init__(self, sizes: Sizes, smoke: bool):
        self.sizes = sizes
        self.smoke = smoke
        self.owner_url, self.admin_url = urls()
        self.script_url = login_url(self.owner_url, "script_login")
        self.validator_url = login_url(self.owner_url, "validator_login")
        self.measurements: list[Measurement] = []
        self.scale: dict[str, dict[int, Measurement]] = {"promote": {}, "floor": {}}
        self.memory: list[dict[str, Any]] = []
        self.actor_id = 0
        self.history: list[dict[str, Any]] = []

    # -- plumbing --------------------------------------------------------

    def log(self, message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)

    def setup(self) -> None:
        pgstaging.install(self.owner_url)
        create_logins(self.admin_url)
        execute(self.owner_url, "setup.sql")
        execute(self.owner_url, "design_schema.sql")
        with StagingClient.connect(self.owner_url) as client:
            self.actor_id = client.register_actor("bench_fetcher")

    def new_run(self) -> int:
        with StagingClient.connect(self.owner_url) as client:
            return client.start_run()

    def quiesce(self) -> None:
        """Untimed: vacuum what the last step left, then checkpoint."""
        execute(self.owner_url, "vacuum.sql")
        execute(self.admin_url, "checkpoint.sql")

    def generate(self, prefix: str, rows: int, file: str = "generate.sql") -> int:
        run = self.new_run()
        params = {"workflow_run_id": run, "actor_id": self.actor_id, "prefix": prefix, "rows": rows}
        staged = execute(self.owner_url, file, params)
        assert staged == rows, (prefix, staged, rows)
        return run

    def add(self, measurement: Measurement) -> Measurement:
        self.measurements.append(measurement)
        m = measurement
        self.log(f"{m.section}: {m.what}: {m.rows} rows, {m.seconds:.3f} s, {m.rate:,.0f} rows/s")
        return m

    # -- ingest ----------------------------------------------------------

    def ingest(self) -> None:
        s = self.sizes
        docs = list(documents(self.owner_url, "ingest", s.ingest_rows))  # untimed
        jobs = docs[: s.fetcher_rows]

        # The design's fetcher as written: get_connection() for every row. It
        # never closes them; CPython does, when save_to_staging returns.
        def connection_per_row() -> psycopg.Connection:
            return psycopg.connect(self.script_url)

        self._fetcher(
            jobs, connection_per_row, "fetcher_per_row", "design fetcher (connection per row)"
        )

        # Kinder to the design: get_connection() hands back one open connection.
        with psycopg.connect(self.script_url) as shared:
            self._fetcher(
                jobs, lambda: shared, "fetcher_shared", "design fetcher (one shared connection)"
            )

        for method in ("stage", "stage_copy"):
            run = self.new_run()
            self.quiesce()
            with StagingClient.connect(self.script_url) as client, timed() as t:
                staged = getattr(client, method)("postings", run, self.actor_id, docs)
            count = len(staged) if isinstance(staged, list) else staged
            assert count == len(docs), (method, count)
            note = "batched INSERT .. unnest, ids returned" if method == "stage" else "COPY"
            self.add(
                Measurement(method, "ingest", f"pgstaging client.{method}", count, t.seconds, note)
            )

        # The ceiling: the same rows, COPY as stage_copy sends them, into a bare
        # table. What staging adds on top: jsonb checks, five indexes, two
        # foreign keys, the forged-row triggers.
        run = self.new_run()
        self.quiesce()
        with (
            timed() as t,
            psycopg.connect(self.owner_url) as conn,
            conn.cursor() as cur,
            cur.copy(query("copy_ceiling.sql")) as copy,
        ):
            for doc in docs:
                copy.write_row((run, self.actor_id, None, json.dumps(doc, ensure_ascii=False)))
        self.add(
            Measurement(
                "copy_ceiling",
                "ingest",
                "COPY into a bare table (the ceiling)",
                len(docs),
                t.seconds,
                "no index, foreign key or trigger; as the owner",
            )
        )

    def _fetcher(self, jobs: list[Any], get_connection, key: str, what: str) -> None:
        run = self.new_run()
        self.quiesce()
        with timed() as t:
            result = design.fetcher_main(
                get_connection, {"workflow_run_id": run, "actor_id": self.actor_id}, jobs
            )
        assert result["count"] == len(jobs)
        self.add(
            Measurement(key, "ingest", what, len(jobs), t.seconds, "one INSERT + commit per row")
        )

    # -- the design's validator -------------------------------------------

    def design_validator(self) -> None:
        rows = self.sizes.validator_rows
        runs: list[float] = []
        for k in range(self.sizes.validator_repeats):
            run = self.generate(f"design{k}", rows, "generate_design.sql")
            self.quiesce()

            def get_connection() -> psycopg.Connection:
                # The design's own tables (bench/design_schema.sql), as the owner.
                return psycopg.connect(
                    self.owner_url,
                    options="-c search_path=bench_design",
                    row_factory=design.dict_index_row,
                )

            with timed() as t:
                summary = design.validator_main(get_connection, {"workflow_run_id": run})
            counts = tuple(summary[f"{o}_count"] for o in ("promoted", "duplicate", "failed"))
            assert sum(counts) == rows, counts
            runs.append(t.seconds)
        self.add(
            Measurement(
                "design_validator",
                "promotion",
                "design validator (connection + commit per record)",
                rows,
                statistics.median(runs),
                "sample, median of {}: {} rows/s; promoted/duplicate/failed {}/{}/{}".format(
                    len(runs), ", ".join(f"{rows / r:,.0f}" for r in runs), *counts
                ),
                runs=runs,
            )
        )

    # -- promotion and the floor, at three sizes ----------------------------

    def promote(
        self, run: int, rows: int, timeout: float | None = None
    ) -> tuple[float, float | None]:
        """Wall seconds (commit included) and the server backend's CPU seconds."""
        with StagingClient.connect(self.validator_url) as client:
            if timeout is not None:
                client.conn.execute(query("statement_timeout.sql"), {"timeout": f"{timeout:.0f}s"})
                client.conn.commit()
            pid = client.conn.info.backend_pid
            cpu = cpu_seconds(pid)
            with timed() as t:
                result = client.promote("postings", run)
            cpu = _spent(cpu, cpu_seconds(pid))
        counts = (result.promoted_count, result.duplicate_count, result.failed_count)
        assert sum(counts) == rows, counts
        return t.seconds, cpu

    def floor(self, run: int, rows: int) -> tuple[float, float | None]:
        params = {"workflow_run_id": run}
        with psycopg.connect(self.owner_url) as conn:
            pid = conn.info.backend_pid
            cpu = cpu_seconds(pid)
            with timed() as t, conn.transaction():
                conn.execute(query("floor_begin.sql"))
                inserted = conn.execute(query("floor_insert.sql"), params).rowcount
                marked = conn.execute(query("floor_update.sql"), params).rowcount
            cpu = _spent(cpu, cpu_seconds(pid))
        assert 0 < inserted <= marked <= rows, (inserted, marked, rows)
        return t.seconds, cpu

    def scale_runs(self) -> None:
        for rows, repeats in zip(self.sizes.scale, self.sizes.repeats, strict=True):
            self.log(f"scale: generating {2 * repeats} x {rows} staged rows")
            pairs = [
                {kind: self.generate(f"{kind}{rows}-{r}", rows) for kind in ("floor", "promote")}
                for r in range(repeats)
            ]
            times: dict[str, list[float]] = {"floor": [], "promote": []}
            cpus: dict[str, list[float]] = {"floor": [], "promote": []}
            for r, pair in enumerate(pairs):
                # ABBA: alternate who goes first, so drift (a growing postings
                # table, a warmer cache) does not favour either.
                order = ("floor", "promote") if r % 2 == 0 else ("promote", "floor")
                for kind in order:
                    self.quiesce()
                    seconds, cpu = getattr(self, kind)(pair[kind], rows)
                    times[kind].append(seconds)
                    if cpu is not None:
                        cpus[kind].append(cpu)
                    self.log(f"scale: {kind} {rows} rows: {seconds:.3f} s, server CPU {cpu} s")
            for kind, what, note in (
                ("promote", "promote_postings_staging", "validator login, via client.promote"),
                ("floor", "floor: INSERT DISTINCT ON + UPDATE", "owner, no rule checks"),
            ):
                mean = statistics.mean(times[kind])
                m = Measurement(kind, "scale", what, rows, mean, note, runs=times[kind])
                m.cpu = statistics.mean(cpus[kind]) if cpus[kind] else None
                self.scale[kind][rows] = m
                self.add(m)

    # -- memory ------------------------------------------------------------

    def memory_runs(self) -> None:
        env = dict(os.environ, BENCH_SCRIPT_URL=self.script_url, DATABASE_URL=self.owner_url)
        for rows in self.sizes.memory_rows:
            run = self.new_run()
            self.quiesce()
            out = subprocess.run(
                [
                    sys.executable,
                    str(BENCH_DIR / "memory_probe.py"),
                    str(rows),
                    f"memory{rows}",
                    str(run),
                    str(self.actor_id),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            probe = json.loads(out.stdout)
            assert probe["rows"] == rows, probe["rows"]
            self.memory.append(probe)
            self.add(
                Measurement(
                    "memory",
                    "memory",
                    "stage_copy from a generator (child process)",
                    rows,
                    probe["seconds"],
                    f"peak RSS {probe['peak'] / 2**20:.1f} MiB",
                )
            )

    # -- everything ----------------------------------------------------------

    def fresh_runs(self) -> None:
        """Promotion (and floor) right after staging: statistics from before the run.

        The scale runs ANALYZE first, which flatters the planner: a validator
        that promotes right after its fetcher staged (the design's workflow)
        runs with statistics that do not know the new run. Measured at the
        middle size, capped at 20x the analyzed promotion's time.
        """
        rows = self.sizes.scale[1]
        cap = max(30.0, 20 * self.scale["promote"][rows].seconds)
        execute(self.owner_url, "autovacuum_off.sql")
        try:
            self.quiesce()  # statistics now cover everything but the runs below
            runs = {k: self.generate(f"fresh-{k}{rows}", rows) for k in ("floor", "promote")}
            execute(self.owner_url, "vacuum_only.sql")
            execute(self.admin_url, "checkpoint.sql")
            floor_seconds, floor_cpu = self.floor(runs["floor"], rows)
            execute(self.owner_url, "vacuum_only.sql")
            execute(self.admin_url, "checkpoint.sql")
            try:
                seconds, cpu = self.promote(runs["promote"], rows, timeout=cap)
                note = "statistics from before the run"
            except PgStagingError as error:
                if not isinstance(error.__cause__, psycopg.errors.QueryCanceled):
                    raise
                seconds, cpu, note = cap, None, f"CANCELLED at the {cap:.0f} s cap"
        finally:
            execute(self.owner_url, "autovacuum_reset.sql")
        for key, what, value, spent, how in (
            (
                "fresh_floor",
                "floor, right after staging",
                floor_seconds,
                floor_cpu,
                "statistics from before the run",
            ),
            ("fresh_promote", "promote_postings_staging, right after staging", seconds, cpu, note),
        ):
            m = Measurement(key, "fresh", what, rows, value, how)
            m.cpu = spent
            self.add(m)

    def run(self) -> dict[str, Any]:
        self.log("installing pgstaging and the benchmark schema")
        self.setup()
        self.log("ingest")
        self.ingest()
        self.log("the design's validator")
        self.design_validator()
        self.scale_runs()
        self.log("promotion right after staging (no ANALYZE of the new run)")
        self.fresh_runs()
        self.log("memory")
        self.memory_runs()
        self.log("history: health, status, metrics and promotion as history grows")
        self.history = history.History(
            self.owner_url, self.admin_url, self.actor_id, self.smoke, self.log
        ).run()
        return self.results()

    def results(self) -> dict[str, Any]:
        with psycopg.connect(self.owner_url, row_factory=dict_row) as conn:
            settings = conn.execute(query("settings.sql")).fetchone()
        server = settings.pop("postgresql")
        return {
            "smoke": self.smoke,
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "environment": {
                "postgresql": server,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "commit": _git_commit(),
                "settings": settings,
            },
            "sizes": self.sizes.__dict__,
            "measurements": [{**m.__dict__, "rate": m.rate} for m in self.measurements],
            "scale": {
                kind: {str(rows): m.seconds for rows, m in by_rows.items()}
                for kind, by_rows in self.scale.items()
            },
            "scale_cpu": {
                kind: {str(rows): m.cpu for rows, m in by_rows.items()}
                for kind, by_rows in self.scale.items()
            },
            "memory": self.memory,
            "history": self.history,
        }


def _spent(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _git_commit() -> str:
    """The code measured: git describe, or BENCH_CODE_LABEL for a checkout without .git."""
    if label := os.environ.get("BENCH_CODE_LABEL"):
        return label
    out = subprocess.run(
        ["git", "-C", str(BENCH_DIR), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: seconds, for CI")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)

    bench = Bench(SMOKE if args.smoke else FULL, args.smoke)
    results = bench.run()
    results["targets"] = report.targets(results)
    RESULTS_DIR.mkdir(exist_ok=True)
    text = report.markdown(results) + "\n\n" + history.markdown(results["history"])
    print(text)
    (RESULTS_DIR / "results.md").write_text(text + "\n", encoding="utf-8")
    (RESULTS_DIR / "results.json").write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    report.chart(results, RESULTS_DIR / "bench.png")
    bench.log(f"wrote {RESULTS_DIR}/results.md, results.json, bench.png")
    failed = [t for t in results["targets"] if not t["passed"]]
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
