"""What the health indexes cost ingest and promotion: the same COPY and promotion with and without.

Inside a throwaway cluster: ``python -m pgstaging.devcluster -- python bench/index_cost.py``.
Variants alternate, so drift on a shared machine hits both alike; medians are printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import pgstaging
import psycopg
from common import create_logins, documents, execute, login_url, query, timed, urls
from pgstaging.client import StagingClient


def wal(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query("wal_lsn.sql")).fetchone()[0]


def wal_bytes(url: str, before: str, after: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        params = {"before": before, "after": after}
        return conn.execute(query("wal_diff.sql"), params).fetchone()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    owner_url, admin_url = urls()
    pgstaging.install(owner_url)
    create_logins(admin_url)
    execute(owner_url, "setup.sql")
    script_url = login_url(owner_url, "script_login")
    validator_url = login_url(owner_url, "validator_login")
    with StagingClient.connect(owner_url) as client:
        actor = client.register_actor("bench_fetcher")
    times: dict[str, dict[str, list[float]]] = {
        v: {"copy": [], "promote": [], "copy_wal": [], "promote_wal": []}
        for v in ("with", "without")
    }
    for repeat in range(args.repeats):
        order = ("with", "without") if repeat % 2 == 0 else ("without", "with")
        for variant in order:
            if variant == "with":
                execute(owner_url, "index_cost_create.sql")
            else:
                execute(owner_url, "history_drop_indexes.sql")
            docs = list(documents(owner_url, f"ic{repeat}{variant}", args.rows))
            with StagingClient.connect(owner_url) as client:
                run = client.start_run()
            execute(owner_url, "history_vacuum.sql")
            execute(admin_url, "checkpoint.sql")
            before = wal(owner_url)
            with StagingClient.connect(script_url) as script, timed() as t:
                script.stage_copy("postings", run, actor, docs)
            times[variant]["copy"].append(t.seconds)
            times[variant]["copy_wal"].append(wal_bytes(owner_url, before, wal(owner_url)))
            execute(owner_url, "history_vacuum.sql")
            execute(admin_url, "checkpoint.sql")
            before = wal(owner_url)
            with StagingClient.connect(validator_url) as validator, timed() as t:
                validator.promote("postings", run)
            times[variant]["promote"].append(t.seconds)
            times[variant]["promote_wal"].append(wal_bytes(owner_url, before, wal(owner_url)))
            print(
                f"bench: {variant}: copy {times[variant]['copy'][-1]:.2f} s, "
                f"promote {times[variant]['promote'][-1]:.2f} s",
                file=sys.stderr,
                flush=True,
            )
    print(
        f"| health indexes | COPY {args.rows:,} rows | its WAL "
        f"| promote {args.rows:,} rows | its WAL | runs (COPY/promote s) |"
    )
    print("|---|---|---|---|---|---|")
    for variant, t in times.items():
        copy, promote = statistics.median(t["copy"]), statistics.median(t["promote"])
        copy_wal = statistics.median(t["copy_wal"]) / 2**20
        promote_wal = statistics.median(t["promote_wal"]) / 2**20
        runs = ", ".join(f"{c:.2f}/{p:.2f}" for c, p in zip(t["copy"], t["promote"], strict=True))
        print(
            f"| {variant} | {copy:.2f} s | {copy_wal:.1f} MiB | {promote:.2f} s "
            f"| {promote_wal:.1f} MiB | {runs} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
