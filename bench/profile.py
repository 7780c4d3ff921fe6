"""Profile promote_postings_staging and measure what-ifs, each on a fresh copy.

    make bench-profile          (or, in a cluster you started:)
    python -m pgstaging.devcluster -- python bench/profile.py [--rows N] ...

A template database gets pgstaging, a history of already-promoted runs
(staging keeps rows forever) and one empty run. Every measurement copies the
template (CREATE DATABASE ... TEMPLATE), applies one variant's DDL
(bench/profile/*.sql), stages the same rows (bench/generate.sql), vacuums,
checkpoints, then times one action in one transaction, commit included.
Copies are dropped after. Nothing here edits sql/: variants change a
scratch copy only.

--explain also logs EXPLAIN (ANALYZE, BUFFERS) of the statements inside
promote_postings_staging and of the floor, via auto_explain.

Times are wall (client side) and the server backend's CPU (from /proc, so
only when the server is local): CPU is steadier on a shared machine, but
leaves out parallel workers, which the promotion's DML does not use.
Variants that a newer generator already includes report "not applicable".

Writes bench/results/profile_<rows>.md, .json and explain_*_<rows>.txt.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pgstaging
import psycopg
from common import RESULTS_DIR, cpu_seconds, create_logins, execute, query, timed, urls
from pgstaging.client import StagingClient
from psycopg import sql
from psycopg.conninfo import make_conninfo

TEMPLATE = "bench_profile_template"


@dataclass(frozen=True)
class Variant:
    name: str
    what: str
    ddl: tuple[str, ...] = ()  # bench/profile/*.sql, as the owner, before staging
    session: tuple[str, ...] = ()  # bench/profile/*.sql, in the measuring session
    action: str = "promote"  # see Profile.act
    rewrite: str | None = None  # a rewrite of the generated statements (REWRITES)


VARIANTS = [
    Variant("baseline", "promote_postings_staging as installed"),
    Variant("floor", "the floor (bench/floor_*.sql)", action="floor"),
    Variant(
        "floor_verdict_table",
        "the floor, verdicts inserted into a narrow table instead of UPDATE",
        ddl=("verdict_table",),
        action="floor_narrow",
    ),
    Variant("judge_count", "the judge query alone, once (no writes)", action="judge_count"),
    Variant("judge_temp", "the judge query once, into a temporary table", action="judge_temp"),
    Variant(
        "no_rewrite_trigger",
        "without the row-level BEFORE UPDATE trigger (WHEN) on staging",
        ddl=("drop_rewrite_trigger",),
    ),
    Variant(
        "rewrite_trigger_update_of",
        "that trigger as BEFORE UPDATE OF <immutable columns>",
        ddl=("rewrite_trigger_update_of",),
    ),
    Variant(
        "no_staging_fks",
        "without the FKs postings.created_by/updated_by_staging_id -> staging",
        ddl=("drop_staging_fks",),
    ),
    Variant("work_mem_64mb", "work_mem = 64MB (default 4MB)", session=("work_mem_64mb",)),
    Variant("work_mem_256mb", "work_mem = 256MB", session=("work_mem_256mb",)),
    Variant(
        "no_pending_index",
        "without the partial index on pending rows (outcome IS NULL)",
        ddl=("drop_pending_index",),
    ),
    Variant("fillfactor_50", "staging fillfactor 50", ddl=("fillfactor_50",)),
    Variant(
        "hot",
        "fillfactor 50 and no pending index: HOT updates possible",
        ddl=("fillfactor_50", "drop_pending_index"),
    ),
    Variant(
        "partial_null_indexes",
        "supersedes/updated_by indexes WHERE NOT NULL",
        ddl=("partial_null_indexes",),
    ),
    Variant(
        "update_filters_run",
        "verdict UPDATE also filtered by workflow_run_id",
        ddl=("update_filters_run",),
    ),
    Variant(
        "jsonb_arrow",
        "raw_data -> 'key' per field instead of jsonb_to_record",
        rewrite="jsonb_arrow",
    ),
    Variant(
        "fold_guarded",
        "error fold skipped when no field has an error",
        rewrite="fold_guarded",
    ),
    Variant(
        "promote_once",
        "judge once: one statement, judged rows materialized (profile/prepare_promote_once.sql)",
        action="promote_once",
    ),
    Variant(
        "best",
        "partial NULL indexes + HOT (fillfactor 50, no pending index) + work_mem 256MB",
        ddl=("partial_null_indexes", "fillfactor_50", "drop_pending_index"),
        session=("work_mem_256mb",),
    ),
    Variant(
        "best_no_fks",
        "best, and without the audit FKs",
        ddl=("partial_null_indexes", "fillfactor_50", "drop_pending_index", "drop_staging_fks"),
        session=("work_mem_256mb",),
    ),
    Variant("details_0", "generated statements, details capped at 0", action="apply:0"),
    Variant("details_10000", "generated statements, details capped at 10000", action="apply:10000"),
    Variant("details_all", "generated statements, full details", action="apply:2147483647"),
]

_RECORD = re.compile(
    r"CROSS JOIN LATERAL jsonb_to_record\(\s*"
    r"CASE WHEN jsonb_typeof\(s\.raw_data\) = 'object' THEN s\.raw_data ELSE '\{\}'::jsonb END"
    r"\s*\) AS r \(([^)]*)\)"
)


def jsonb_arrow(statement: str) -> str:
    """jsonb_to_record(raw_data) AS r (k jsonb, ...) -> (SELECT raw_data -> 'k' AS k, ...) AS r.

    ``->`` gives NULL on a non-object, as the CASE does, so the rules are unchanged.
    """

    def replace(match: re.Match[str]) -> str:
        keys = [part.strip().rsplit(" ", 1)[0] for part in match.group(1).split(",")]
        fields = ", ".join(f"s.raw_data -> '{key.strip(chr(34))}' AS {key}" for key in keys)
        return f"CROSS JOIN LATERAL (SELECT {fields}) AS r"

    rewritten, count = _RECORD.subn(replace, statement)
    if count == 0:
        raise NotApplicable("the generated SQL no longer uses jsonb_to_record")
    return rewritten


_FOLD = re.compile(
    r"ELSE '\[\]'::jsonb((?: \|\| pgstaging\.field_error\('[^']*', checked\.\"e:[^\"]+\"\))+) END"
)


def fold_guarded(statement: str) -> str:
    """Skip the jsonb error fold (six || of empty arrays) when no field has an error."""

    def replace(match: re.Match[str]) -> str:
        columns = re.findall(r'checked\."(e:[^"]+)"', match.group(1))
        none = " AND ".join(f'checked."{column}" IS NULL' for column in columns)
        return f"ELSE CASE WHEN {none} THEN '[]'::jsonb ELSE '[]'::jsonb{match.group(1)} END END"

    if re.search(r"THEN '\[\]'::jsonb\s+ELSE '\[\]'::jsonb \|\|", statement):
        raise NotApplicable("the generated SQL already skips the fold for valid rows")
    rewritten, count = _FOLD.subn(replace, statement)
    if count == 0:
        raise NotApplicable("the generated error fold has changed")
    return rewritten


REWRITES: dict[str, Callable[[str], str]] = {
    "jsonb_arrow": jsonb_arrow,
    "fold_guarded": fold_guarded,
}


def _plan(message: str) -> str:
    """An auto_explain message with its (long, generated) query text cut short."""
    lines = message.splitlines()
    root = next((i for i, line in enumerate(lines) if "(cost=" in line), len(lines))
    text = [line for line in lines[1:root] if line.strip()]
    head = [lines[0], *text[:3], "    ..."] if len(text) > 3 else lines[:root]
    return "\n".join(head + lines[root:])


_JUDGED = re.compile(r"WITH verdict AS \(.*?\bFROM \((.*)\)\s+AS j\s+LEFT JOIN", re.DOTALL)


def judge_sql(verdict_sql: str) -> str:
    """The judge subquery in the generated verdict statement: FROM (<judge>) AS j LEFT JOIN."""
    match = _JUDGED.search(verdict_sql)
    if match is None:
        raise NotApplicable("the generated verdict statement no longer has FROM (<judge>) AS j")
    return match.group(1)


class NotApplicable(RuntimeError):
    """A variant that does not apply to the installed generator (already done, or changed)."""


class Profile:
    def __init__(self, rows: int, history: int, repeats: int):
        self.rows = rows
        self.history = history
        self.repeats = repeats
        self.owner_url, self.admin_url = urls()
        self.run_id = 0
        self.actor_id = 0
        self.copies = 0

    def log(self, message: str) -> None:
        print(f"profile: {message}", file=sys.stderr, flush=True)

    def admin(self, file: str, **identifiers: str) -> None:
        statement = query(f"profile/{file}.sql").format(
            **{k: sql.Identifier(v) for k, v in identifiers.items()}
        )
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(statement)

    def url(self, dbname: str) -> str:
        return make_conninfo(self.owner_url, dbname=dbname)

    # -- the template ------------------------------------------------------

    def build_template(self) -> None:
        self.log(f"template: pgstaging, {self.history:,} promoted history rows, one empty run")
        self.admin("drop_database", name=TEMPLATE)
        self.admin("create_template", name=TEMPLATE)
        url = self.url(TEMPLATE)
        pgstaging.install(url)
        create_logins(self.admin_url)
        execute(url, "setup.sql")
        execute(url, "design_schema.sql")
        with StagingClient.connect(url) as client:
            self.actor_id = client.register_actor("bench_profile")
        runs = max(1, self.history // 100_000)
        for k in range(runs if self.history else 0):
            with psycopg.connect(url, autocommit=True) as conn:
                run = conn.execute(query("profile/start_run.sql")).fetchone()[0]
                params = {
                    "workflow_run_id": run,
                    "actor_id": self.actor_id,
                    "prefix": f"history{k}",
                    "rows": self.history // runs,
                }
                conn.execute(query("generate.sql"), params)
                # Statistics first: this history is set-up, not a measurement.
                conn.execute(query("vacuum.sql"))
                conn.execute(query("profile/promote.sql"), {"workflow_run_id": run})
        with psycopg.connect(url, autocommit=True) as conn:
            self.run_id = conn.execute(query("profile/start_run.sql")).fetchone()[0]
            conn.execute(query("vacuum.sql"))

    # -- one measurement -----------------------------------------------------

    def copy(self, variant: Variant) -> str:
        self.copies += 1
        name = f"bench_profile_{self.copies}"
        self.admin("drop_database", name=name)
        self.admin("create_database", name=name, template=TEMPLATE)
        try:
            self._prepare_copy(name, variant)
        except BaseException:
            self.admin("drop_database", name=name)
            raise
        execute(self.admin_url, "checkpoint.sql")
        return name

    def _prepare_copy(self, name: str, variant: Variant) -> None:
        with psycopg.connect(self.url(name), autocommit=True) as conn:
            for ddl in variant.ddl:
                conn.execute(query(f"profile/{ddl}.sql"))
            if variant.rewrite:
                rewrite = REWRITES[variant.rewrite]
                generated = conn.execute(query("profile/generated_sql.sql")).fetchone()
                insert_sql, verdict_sql = generated
                conn.execute(
                    query("profile/set_generated_sql.sql"),
                    {"insert_sql": rewrite(insert_sql), "verdict_sql": rewrite(verdict_sql)},
                )
            params = {
                "workflow_run_id": self.run_id,
                "actor_id": self.actor_id,
                "prefix": "profile",
                "rows": self.rows,
            }
            conn.execute(query("generate.sql"), params)
            conn.execute(query("vacuum.sql"))

    def act(self, conn: psycopg.Connection, action: str) -> Any:
        params = {"workflow_run_id": self.run_id}
        if action == "promote":
            return conn.execute(query("profile/promote.sql"), params).fetchone()[0]
        if action in ("floor", "floor_narrow"):
            conn.execute(query("floor_begin.sql"))
            inserted = conn.execute(query("floor_insert.sql"), params).rowcount
            second = "floor_update.sql" if action == "floor" else "profile/floor_verdict_insert.sql"
            marked = conn.execute(query(second), params).rowcount
            return {"inserted": inserted, "marked": marked}
        if action in ("judge_count", "judge_temp"):
            with psycopg.ClientCursor(conn) as cur:
                cur.execute(query(f"profile/{action}.sql"), params)
                return cur.fetchone() if action == "judge_count" else cur.rowcount
        if action == "promote_once":
            conn.execute(query("floor_begin.sql"))  # the writer flag, as run_promotion sets it
            with psycopg.ClientCursor(conn) as cur:
                cur.execute(query("profile/promote_once.sql"), params)
                summary = cur.fetchone()[0]
            return {k: v for k, v in summary.items() if k != "details"}
        if action.startswith("apply:"):
            conn.execute(query("floor_begin.sql"))  # the writer flag, as run_promotion sets it
            limit = int(action.split(":", 1)[1])
            summary = conn.execute(
                query("profile/apply_promotion.sql"), {**params, "details_limit": limit}
            ).fetchone()[0]
            return {k: v for k, v in summary.items() if k != "details"}
        raise ValueError(action)

    def prepare(self, conn: psycopg.Connection, action: str) -> None:
        """Untimed set-up in the measuring session."""
        prepared = {
            "judge_count": "prepare_judge_count",
            "judge_temp": "prepare_judge_rows",
            "promote_once": "prepare_promote_once",
        }
        if action in prepared:
            verdict_sql = conn.execute(query("profile/generated_sql.sql")).fetchone()[1]
            judge = sql.SQL(judge_sql(verdict_sql))  # type: ignore[arg-type]
            conn.execute(query(f"profile/{prepared[action]}.sql").format(judge=judge))
            conn.commit()

    def measure(self, variant: Variant, explain: bool = False) -> dict[str, Any]:
        name = self.copy(variant)
        notices: list[str] = []
        try:
            url = self.url(name)
            if explain:
                url = make_conninfo(self.admin_url, dbname=name)
            with psycopg.connect(url) as conn:
                conn.add_notice_handler(lambda d: notices.append(_plan(d.message_primary or "")))
                if explain:
                    conn.execute(query("profile/auto_explain.sql"))
                for setting in variant.session:
                    conn.execute(query(f"profile/{setting}.sql"))
                conn.commit()
                self.prepare(conn, variant.action)
                cpu_before = cpu_seconds(conn.info.backend_pid)
                with timed() as t, conn.transaction():
                    outcome = self.act(conn, variant.action)
                    updates, hot = conn.execute(query("profile/hot_updates.sql")).fetchone()
                cpu_after = cpu_seconds(conn.info.backend_pid)
        finally:
            self.admin("drop_database", name=name)
        cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
        return {
            "seconds": t.seconds,
            "cpu": cpu,
            "outcome": outcome,
            "updates": updates,
            "hot": hot,
            "plans": notices,
        }

    def run(self, variants: list[Variant], explain: bool) -> dict[str, Any]:
        self.build_template()
        results: dict[str, Any] = {"rows": self.rows, "history": self.history, "variants": {}}
        if explain:
            RESULTS_DIR.mkdir(exist_ok=True)
            for name in ("baseline", "floor"):
                variant = next(v for v in VARIANTS if v.name == name)
                self.log(f"explain: {name}")
                plans = self.measure(variant, explain=True)["plans"]
                path = RESULTS_DIR / f"explain_{name}_{self.rows}.txt"
                path.write_text("\n\n".join(plans) + "\n", encoding="utf-8")
        # Interleaved rounds: every variant once per round, so drift spreads evenly.
        times: dict[str, list[float]] = {v.name: [] for v in variants}
        cpus: dict[str, list[float]] = {v.name: [] for v in variants}
        last: dict[str, dict[str, Any]] = {}
        skipped: dict[str, str] = {}
        for round_ in range(self.repeats):
            for variant in variants:
                if variant.name in skipped:
                    continue
                try:
                    measured = self.measure(variant)
                except NotApplicable as reason:
                    skipped[variant.name] = str(reason)
                    self.log(f"{variant.name}: not applicable: {reason}")
                    continue
                times[variant.name].append(measured["seconds"])
                if measured["cpu"] is not None:
                    cpus[variant.name].append(measured["cpu"])
                last[variant.name] = measured
                self.log(
                    f"round {round_ + 1}: {variant.name}: {measured['seconds']:.3f} s, "
                    f"server CPU {measured['cpu']} s "
                    f"(updates {measured['updates']}, HOT {measured['hot']})"
                )
        results["not_applicable"] = skipped
        for variant in variants:
            if variant.name in skipped:
                continue
            m = last[variant.name]
            results["variants"][variant.name] = {
                "what": variant.what,
                "median": statistics.median(times[variant.name]),
                "min": min(times[variant.name]),
                "runs": times[variant.name],
                "cpu_median": statistics.median(cpus[variant.name]) if cpus[variant.name] else None,
                "cpu_runs": cpus[variant.name],
                "updates": m["updates"],
                "hot": m["hot"],
                "outcome": m["outcome"],
            }
        return results


def markdown(results: dict[str, Any]) -> str:
    variants = results["variants"]
    base = variants.get("baseline", {})

    def delta(value: float | None, reference: float | None) -> str:
        if value is None or not reference:
            return ""
        return f"{value - reference:+.2f} s ({(value - reference) / reference:+.0%})"

    lines = [
        f"# Profile: {results['rows']:,} staged rows, {results['history']:,} history rows",
        "",
        "Wall: client-side, commit included. Server CPU: the backend's user+system time,",
        "less sensitive to other load on the machine. Deltas are against baseline.",
        "",
        "| variant | what | wall median s | wall runs | wall vs baseline "
        "| server CPU median s | CPU vs baseline | staging updates (HOT) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, v in variants.items():
        runs = ", ".join(f"{s:.2f}" for s in v["runs"])
        hot = f"{v['updates']:,} ({v['hot']:,})" if v["updates"] else "-"
        cpu = "" if v["cpu_median"] is None else f"{v['cpu_median']:.2f}"
        wall_delta = "" if name == "baseline" else delta(v["median"], base.get("median"))
        cpu_delta = "" if name == "baseline" else delta(v["cpu_median"], base.get("cpu_median"))
        lines.append(
            f"| {name} | {v['what']} | {v['median']:.2f} | {runs} | {wall_delta} "
            f"| {cpu} | {cpu_delta} | {hot} |"
        )
    for name, reason in results.get("not_applicable", {}).items():
        lines.append(f"| {name} | not applicable: {reason} | | | | | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="staged rows promoted")
    parser.add_argument("--history", type=int, default=300_000, help="promoted rows already there")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", help="comma-separated variant names")
    parser.add_argument("--explain", action="store_true", help="auto_explain baseline and floor")
    args = parser.parse_args(argv)

    chosen = VARIANTS
    if args.only:
        names = args.only.split(",")
        chosen = [v for v in VARIANTS if v.name in names]
        if len(chosen) != len(names):
            raise SystemExit(f"unknown variant in {names}; known: {[v.name for v in VARIANTS]}")
    started = time.perf_counter()
    profile = Profile(args.rows, args.history, args.repeats)
    results = profile.run(chosen, args.explain)
    RESULTS_DIR.mkdir(exist_ok=True)
    suffix = f"_{args.rows}"
    text = markdown(results)
    print(text)
    (RESULTS_DIR / f"profile{suffix}.md").write_text(text + "\n", encoding="utf-8")
    (RESULTS_DIR / f"profile{suffix}.json").write_text(
        json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8"
    )
    profile.admin("drop_database", name=TEMPLATE)
    profile.log(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
