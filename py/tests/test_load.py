"""Load: script logins stage while validators promote the same runs, for a few seconds.

Scripts are ``pgbench`` (a real, independent client, as ``script_login``,
one INSERT per transaction from ``data/load_postings.pgbench``) and Python
threads (as ``script_login2``, batches through the client). Validators are
Python threads promoting the same three runs in a loop, with the client's
retries turned off, so a deadlock or serialization failure would reach
them. Afterwards, for every run: staged = promoted + duplicate + failed +
pending, a final promotion leaves nothing pending, every valid natural key
has exactly one production row, every verdict points at the right one, and
no caller saw any error (23505, 40P01 and 40001 included).

The measured rates are printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import random
import re
import subprocess
import threading
import time
from pathlib import Path

from pgstaging import StagingClient
from pgstaging.devcluster import _bindir
from support import fetch_all, fetch_one

PGBENCH_SCRIPT = Path(__file__).parent / "data" / "load_postings.pgbench"
SECONDS = 6
PGBENCH_CLIENTS = 4
PY_SCRIPTS = 2
VALIDATORS = 3
RUNS = 3
FORBIDDEN = ("23505", "40P01", "40001", "deadlock", "duplicate key", "could not serialize")


def python_document(rnd: random.Random) -> object:
    key = f"L-{rnd.randint(1, 300)}"
    roll = rnd.random()
    if roll < 0.05:
        return {"job_id": key}  # no title
    if roll < 0.10:
        return [key]  # not an object
    if roll < 0.25:
        key = f" {key}  "
    return {"job_id": key, "title": f"Python title {key.strip()}"}


def run_ledgers(url: str, runs: list[int]) -> dict[int, dict[str, int]]:
    found = fetch_all(
        url,
        """SELECT workflow_run_id, count(*),
                  count(*) FILTER (WHERE outcome IS NULL),
                  count(*) FILTER (WHERE outcome = 'promoted'),
                  count(*) FILTER (WHERE outcome = 'duplicate'),
                  count(*) FILTER (WHERE outcome = 'failed'),
                  count(*) FILTER (WHERE outcome NOT IN ('promoted', 'duplicate', 'failed'))
           FROM postings_staging WHERE workflow_run_id = ANY(%s) GROUP BY 1""",
        (runs,),
    )
    names = ("staged", "pending", "promoted", "duplicate", "failed", "other")
    return {row[0]: dict(zip(names, row[1:], strict=True)) for row in found}


def test_load_scripts_and_validators_at_once(db, owner):
    runs = [owner.start_run() for _ in range(RUNS)]
    actor_id = owner.register_actor("load_fetcher")
    done = threading.Event()
    lock = threading.Lock()
    errors: list[str] = []
    python_rows = [0]
    judged = {"promoted": 0, "duplicate": 0, "failed": 0, "calls": 0}
    calls_by_validator = [0] * VALIDATORS

    def guarded(name, body) -> threading.Thread:
        def run() -> None:
            try:
                body()
            except BaseException as error:
                cause = error.__cause__ or error
                with lock:
                    errors.append(f"{name}: {getattr(cause, 'sqlstate', None)} {error!r}")

        return threading.Thread(target=run, name=name, daemon=True)

    def script(seed: int) -> None:
        rnd = random.Random(seed)
        with StagingClient.connect(db.url("script_login2"), retries=0) as client:
            while not done.is_set():
                batch = [python_document(rnd) for _ in range(rnd.randint(1, 20))]
                client.stage("postings", rnd.choice(runs), actor_id, batch)
                with lock:
                    python_rows[0] += len(batch)

    def validator(seed: int) -> None:
        rnd = random.Random(seed)
        with StagingClient.connect(db.url("validator_login"), retries=0) as client:
            while not done.is_set():
                result = client.promote("postings", rnd.choice(runs))
                with lock:
                    judged["promoted"] += result.promoted_count
                    judged["duplicate"] += result.duplicate_count
                    judged["failed"] += result.failed_count
                    judged["calls"] += 1
                    calls_by_validator[seed - 100] += 1

    threads = [guarded(f"script-{n}", lambda n=n: script(n)) for n in range(PY_SCRIPTS)]
    threads += [
        guarded(f"validator-{n}", lambda n=n: validator(100 + n)) for n in range(VALIDATORS)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        bench = subprocess.run(
            [
                str(_bindir() / "pgbench"),
                "-n",
                "-T",
                str(SECONDS),
                "-c",
                str(PGBENCH_CLIENTS),
                "-j",
                "2",
                "-f",
                str(PGBENCH_SCRIPT),
                "-D",
                f"first_run={min(runs)}",
                "-D",
                f"last_run={max(runs)}",
                "-D",
                f"actor={actor_id}",
                db.url("script_login"),
            ],
            capture_output=True,
            text=True,
            timeout=SECONDS + 30,
        )
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=30)
    elapsed = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads)

    # -- nobody saw an error ---------------------------------------------------
    assert errors == []
    assert bench.returncode == 0, bench.stderr
    assert not any(word in bench.stderr + bench.stdout for word in FORBIDDEN), bench.stderr
    assert "ERROR" not in bench.stderr and "aborted" not in bench.stderr + bench.stdout
    assert re.search(r"number of failed transactions: 0\b", bench.stdout), bench.stdout
    processed = int(re.search(r"number of transactions actually processed: (\d+)", bench.stdout)[1])
    # Every script and every validator did its part while the others ran.
    assert processed > 0 and python_rows[0] > 0 and min(calls_by_validator) >= 1

    # pgbench's own count agrees with what the database kept for its login.
    by_login = dict(
        fetch_all(
            db.admin_url,
            "SELECT inserted_by, count(*) FROM postings_staging GROUP BY 1",
        )
    )
    assert by_login == {"script_login": processed, "script_login2": python_rows[0]}

    # -- the ledger held while everything ran ----------------------------------
    during = run_ledgers(db.admin_url, runs)
    for run, counts in during.items():
        assert counts["other"] == 0, run
        assert counts["staged"] == (
            counts["promoted"] + counts["duplicate"] + counts["failed"] + counts["pending"]
        ), (run, counts)
    judged_during = sum(c["staged"] - c["pending"] for c in during.values())
    assert judged_during == judged["promoted"] + judged["duplicate"] + judged["failed"]

    # -- a final promotion leaves nothing pending ------------------------------
    with StagingClient.connect(db.url("validator_login"), retries=0) as client:
        for run in runs:
            client.promote("postings", run)
        statuses = {run: client.status(run) for run in runs}
    after = run_ledgers(db.admin_url, runs)
    staged_total = sum(c["staged"] for c in after.values())
    assert staged_total == processed + python_rows[0]
    for run, counts in after.items():
        assert counts["pending"] == 0 and counts["other"] == 0, (run, counts)
        assert counts["staged"] == counts["promoted"] + counts["duplicate"] + counts["failed"]
        (status,) = [s for s in statuses[run] if s.table_name == "postings"]
        assert (
            status.staged,
            status.pending,
            status.promoted,
            status.duplicate,
            status.failed,
        ) == (counts["staged"], 0, counts["promoted"], counts["duplicate"], counts["failed"])

    # -- one production row per natural key, and verdicts point at it ----------
    assert (
        fetch_all(
            db.admin_url, "SELECT external_job_id FROM postings GROUP BY 1 HAVING count(*) > 1"
        )
        == []
    )
    valid_keys = {
        row[0]
        for row in fetch_all(
            db.admin_url,
            """SELECT btrim(raw_data ->> 'job_id') FROM postings_staging
               WHERE jsonb_typeof(raw_data) = 'object' AND raw_data ? 'title'""",
        )
    }
    production_keys = {
        row[0] for row in fetch_all(db.admin_url, "SELECT external_job_id FROM postings")
    }
    assert production_keys == valid_keys and len(valid_keys) > 100
    assert fetch_one(
        db.admin_url,
        # Wrong link, failed without reasons, promoted but not the creator, valid but failed.
        """SELECT
               count(*) FILTER (WHERE s.outcome IN ('promoted', 'duplicate')
                   AND p.external_job_id IS DISTINCT FROM btrim(s.raw_data ->> 'job_id')),
               count(*) FILTER (WHERE s.outcome = 'failed' AND (s.promoted_to_id IS NOT NULL
                   OR jsonb_array_length(s.validation_errors) = 0)),
               count(*) FILTER (WHERE s.outcome = 'promoted'
                   AND p.created_by_staging_id <> s.staging_id),
               count(*) FILTER (WHERE s.outcome = 'failed'
                   AND jsonb_typeof(s.raw_data) = 'object' AND s.raw_data ? 'title')
           FROM postings_staging AS s
           LEFT JOIN postings AS p ON p.posting_id = s.promoted_to_id""",
    ) == (0, 0, 0, 0)
    assert fetch_one(
        db.admin_url,
        "SELECT (SELECT count(*) FROM postings), "
        "(SELECT count(*) FROM postings_staging WHERE outcome = 'promoted')",
    ) == (len(valid_keys), len(valid_keys))

    staged_rate = staged_total / elapsed
    judged_rate = judged_during / elapsed
    print(
        f"\nload: {elapsed:.1f} s; staged {staged_total} rows "
        f"(pgbench {processed} by {PGBENCH_CLIENTS} clients, python {python_rows[0]} by "
        f"{PY_SCRIPTS} threads) = {staged_rate:.0f} rows/s; {VALIDATORS} validators judged "
        f"{judged_during} rows in {judged['calls']} promote calls = {judged_rate:.0f} rows/s; "
        f"{len(valid_keys)} postings; no errors"
    )
