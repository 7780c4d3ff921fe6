"""Validators and scripts at once, on separate connections, for a few seconds.

Several validators promote the same runs and runs that share natural keys,
while scripts keep staging into those runs. No caller may see an error
(unique violation 23505, deadlock 40P01, serialization failure 40001, or any
other), every natural key gets exactly one posting, and every staged row is
accounted for exactly once.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

from support import fetch_all, ledger, trim

DURATION = 3.0
RUNS = 4
SCRIPTS = 4
VALIDATORS = 4
KEYS = [f"C-{n}" for n in range(60)]


def make_document(rnd: random.Random):
    key = rnd.choice(KEYS)
    roll = rnd.random()
    if roll < 0.05:
        return [key]  # not an object
    if roll < 0.15:
        return {"job_id": key}  # no title
    if roll < 0.30:
        key = f" {key}\u3000"  # the same key once trimmed
    return {"job_id": key, "title": f"Title {rnd.randrange(1000)}", "location": "Berlin"}


def client(db, login: str):
    """A client that shows every conflict to its caller: no silent retries."""
    staging_client = db.client(login)
    staging_client.retries = 0
    return staging_client


def deadlocks(db) -> int:
    (count,) = fetch_all(
        db.admin_url,
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
    )[0]
    return count


def sqlstate_of(error: BaseException) -> str | None:
    cause = error.__cause__ or error
    return getattr(cause, "sqlstate", None)


def test_validators_and_scripts_at_once(db, owner, actor_id):
    runs = [owner.start_run() for _ in range(RUNS)]
    hot_runs = runs[:2]  # promoted by every validator at once
    lock = threading.Lock()
    failures: list[tuple[str, str | None, str]] = []
    staged: dict[int, list[int]] = {run: [] for run in runs}
    documents: dict[int, object] = {}
    summaries: list[tuple[int, dict]] = []
    deadline = 0.0

    def set_deadline() -> None:
        nonlocal deadline
        deadline = time.monotonic() + DURATION

    # Every connection is open before the clock starts.
    start = threading.Barrier(SCRIPTS + VALIDATORS, action=set_deadline)

    def guarded(name, body):
        def run() -> None:
            try:
                body()
            except BaseException as error:
                with lock:
                    failures.append((name, sqlstate_of(error), repr(error)))

        return threading.Thread(target=run, name=name)

    def script(login: str, seed: int) -> None:
        rnd = random.Random(seed)
        with client(db, login) as scripts:
            start.wait(timeout=30)
            while time.monotonic() < deadline:
                run = rnd.choice(runs)
                batch = [make_document(rnd) for _ in range(rnd.randint(1, 25))]
                ids = scripts.stage("postings", run, actor_id, batch)
                with lock:
                    staged[run].extend(ids)
                    documents.update(zip(ids, batch, strict=True))
                time.sleep(rnd.random() * 0.004)  # keep runs small enough for many promotions

    def validator(seed: int) -> None:
        rnd = random.Random(seed)
        with client(db, "validator_login") as validators:
            start.wait(timeout=30)
            while time.monotonic() < deadline:
                run = rnd.choice(hot_runs if rnd.random() < 0.5 else runs)
                summary = validators.promote("postings", run).as_json()
                with lock:
                    summaries.append((run, summary))

    threads = [
        guarded(f"script-{n}", lambda n=n: script("script_login" if n % 2 else "script_login2", n))
        for n in range(SCRIPTS)
    ]
    threads += [
        guarded(f"validator-{n}", lambda n=n: validator(100 + n)) for n in range(VALIDATORS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DURATION + 60)

    assert not [t.name for t in threads if t.is_alive()], "a thread hung"
    assert failures == [], failures
    total = sum(len(ids) for ids in staged.values())
    # Not vacuous: rows were staged and every validator got calls through.
    assert total > 200 and len(summaries) >= 2 * VALIDATORS, (total, len(summaries))

    # Each row judged at most once, and as its summary said.
    staged_sets = {run: set(ids) for run, ids in staged.items()}
    judged: dict[int, tuple[str, int | None]] = {}
    for run, summary in summaries:
        details = summary["details"]
        assert summary["promoted_count"] == len(details["promoted"])
        assert summary["duplicate_count"] == len(details["duplicates"])
        assert summary["failed_count"] == len(details["failed"])
        for outcome, items in (
            ("promoted", details["promoted"]),
            ("duplicate", details["duplicates"]),
            ("failed", details["failed"]),
        ):
            for item in items:
                assert item["staging_id"] not in judged, "judged twice"
                assert item["staging_id"] in staged_sets[run]
                judged[item["staging_id"]] = (outcome, item.get("posting_id"))
    rows = {
        staging_id: (outcome, posting_id)
        for staging_id, outcome, posting_id in fetch_all(
            db.admin_url,
            "SELECT staging_id, outcome, promoted_to_id FROM postings_staging "
            "WHERE outcome IS NOT NULL",
        )
    }
    assert judged == rows

    # The ledger of every run: nothing lost, nothing extra, every row in one state.
    for run in runs:
        counts = ledger(db.admin_url, run)
        assert counts["staged"] == len(staged[run])
        assert counts["staged"] == (
            counts["promoted"] + counts["duplicate"] + counts["failed"] + counts["pending"]
        )
        judged_here = Counter(o for s, (o, _) in judged.items() if s in staged_sets[run])
        assert (judged_here["promoted"], judged_here["duplicate"], judged_here["failed"]) == (
            counts["promoted"],
            counts["duplicate"],
            counts["failed"],
        )

    # Pending rows (staged after a promotion's snapshot) go on the next call.
    with client(db, "validator_login") as validators:
        for run in runs:
            validators.promote("postings", run)
    for run in runs:
        counts = ledger(db.admin_url, run)
        assert counts["pending"] == 0
        assert counts["staged"] == counts["promoted"] + counts["duplicate"] + counts["failed"]

    # Exactly one posting per natural key, made by the row that says so.
    postings = fetch_all(
        db.admin_url,
        "SELECT p.external_job_id, p.posting_id, s.outcome, s.promoted_to_id "
        "FROM postings AS p JOIN postings_staging AS s ON s.staging_id = p.created_by_staging_id",
    )
    keys = Counter(key for key, *_ in postings)
    assert max(keys.values()) == 1
    assert all(outcome == "promoted" and to_id == pid for _, pid, outcome, to_id in postings)
    valid_keys = {
        trim(d["job_id"]) for d in documents.values() if isinstance(d, dict) and "title" in d
    }
    assert set(keys) == valid_keys
    # Every promoted or duplicate row points at the posting of its own key.
    by_id = {pid: key for key, pid, *_ in postings}
    linked = fetch_all(
        db.admin_url,
        "SELECT staging_id, promoted_to_id FROM postings_staging "
        "WHERE outcome IN ('promoted', 'duplicate')",
    )
    assert len(linked) == sum(1 for d in documents.values() if isinstance(d, dict) and "title" in d)
    for staging_id, posting_id in linked:
        assert by_id[posting_id] == trim(documents[staging_id]["job_id"])
    assert fetch_all(
        db.admin_url, "SELECT count(*) FROM postings_staging WHERE outcome = 'promoted'"
    ) == [(len(postings),)]
    # The server detected no deadlock either (a retrying client would hide one).
    assert deadlocks(db) == 0


def promote_at_once(db, runs: list[int]) -> list[dict]:
    """One validator connection per entry of ``runs``, all released together."""
    start = threading.Barrier(len(runs))
    results: list = [None] * len(runs)

    def work(index: int, run: int) -> None:
        try:
            with client(db, "validator_login") as validators:
                start.wait(timeout=30)
                results[index] = validators.promote("postings", run).as_json()
        except BaseException as error:
            results[index] = error

    threads = [threading.Thread(target=work, args=(i, run)) for i, run in enumerate(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(isinstance(r, BaseException) for r in results), results
    return results


def test_same_run_promoted_by_several_validators_at_once(db, owner, script, actor_id):
    run = owner.start_run()
    documents = [{"job_id": f"SAME-{n % 300}", "title": "t"} for n in range(600)]
    documents += [{"job_id": f"SAME-BAD-{n}"} for n in range(50)]
    script.stage("postings", run, actor_id, documents)

    results = promote_at_once(db, [run] * 6)

    # One validator did it all; the others waited and found nothing pending.
    totals = sorted((r["promoted_count"], r["duplicate_count"], r["failed_count"]) for r in results)
    assert totals == [(0, 0, 0)] * 5 + [(300, 300, 50)]
    assert ledger(db.admin_url, run) == {
        "staged": 650,
        "pending": 0,
        "promoted": 300,
        "duplicate": 300,
        "failed": 50,
    }


def test_overlapping_runs_promoted_at_once(db, owner, script, actor_id):
    # Six runs with the same keys in shuffled orders: a race on every key.
    runs = [owner.start_run() for _ in range(6)]
    keys = [f"OVER-{n}" for n in range(400)]
    for seed, run in enumerate(runs):
        shuffled = random.Random(seed).sample(keys, len(keys))
        script.stage("postings", run, actor_id, [{"job_id": k, "title": "t"} for k in shuffled])

    results = promote_at_once(db, runs)

    assert sum(r["promoted_count"] for r in results) == len(keys)
    assert sum(r["duplicate_count"] for r in results) == len(keys) * (len(runs) - 1)
    assert fetch_all(
        db.admin_url, "SELECT count(*), count(DISTINCT external_job_id) FROM postings"
    ) == [(len(keys), len(keys))]
    for run in runs:
        assert ledger(db.admin_url, run)["pending"] == 0
    assert deadlocks(db) == 0
