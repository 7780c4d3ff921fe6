"""``python -m pgstaging.demo`` against a test database: the story runs and shows the refusals."""

from __future__ import annotations

import json
import re
from importlib import resources

from support import expected_errors, expected_key, fetch_all, run_module


def run_demo(db):
    done = run_module("pgstaging.demo", url=db.owner_url, timeout=120)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stdout


def documents(name: str) -> list:
    text = (resources.files("pgstaging") / "data" / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def expected_counts(runs: list[list]) -> list[dict[str, int]]:
    """Outcome counts per run, from the rules' oracle in support.py."""
    keys: set[str] = set()
    result = []
    for docs in runs:
        counts = {"promoted": 0, "duplicate": 0, "failed": 0}
        for doc in docs:
            if expected_errors(doc):
                counts["failed"] += 1
            elif expected_key(doc) in keys:
                counts["duplicate"] += 1
            else:
                counts["promoted"] += 1
                keys.add(expected_key(doc))
        result.append(counts)
    return result


def check_story(db, out: str) -> None:
    run1, run2 = documents("demo_run1.jsonl"), documents("demo_run2.jsonl")
    first, second = expected_counts([run1, run2])
    # The data exercise every outcome.
    assert first["promoted"] == len(run1) and min(second.values()) > 0
    assert f"staged {len(run1)} postings" in out
    assert f"staged {len(run2)} rows" in out
    assert (
        f"{second['promoted']} promoted, {second['duplicate']} duplicate, {second['failed']} failed"
    ) in out
    for outcome in ("promoted", "duplicate", "failed"):
        assert len(re.findall(rf"│\s*{outcome}\s*│", out)) == second[outcome], outcome
    # The three attempts past the boundary are refused with 42501, none allowed.
    assert out.count("refused SQLSTATE 42501") == 3
    assert "ALLOWED" not in out
    assert "0 promoted, 0 duplicate, 0 failed" in out
    # Reasons are shown, and the database agrees with the story.
    for reason in (
        "job_id: missing",
        "title: empty",
        "title: too long",
        "title: wrong type",
        "raw_data: not an object",
    ):
        assert reason in out, reason
    promoted = first["promoted"] + second["promoted"]
    assert fetch_all(db.admin_url, "SELECT count(*) FROM postings") == [(promoted,)]
    assert fetch_all(
        db.admin_url,
        "SELECT outcome, count(*) FROM postings_staging GROUP BY outcome ORDER BY outcome",
    ) == [("duplicate", second["duplicate"]), ("failed", second["failed"]), ("promoted", promoted)]
    assert fetch_all(
        db.admin_url, "SELECT count(*) FROM postings WHERE external_job_id IN ('HACK-1', 'FORGED')"
    ) == [(0,)]


def test_demo_on_an_installed_database(db):
    out = run_demo(db)
    assert "already up to date" in out
    check_story(db, out)


def test_demo_installs_into_an_empty_database(empty_db):
    out = run_demo(empty_db)
    assert "new install" in out
    check_story(empty_db, out)


def test_demo_set_role_fallback_works_on_this_server(db, monkeypatch):
    # As when the logins cannot connect (password auth): the owner acts as
    # them with SET ROLE, through the membership the demo grants itself
    # (WITH SET on 16+, plain membership before).
    monkeypatch.setenv("PGSTAGING_DEMO_SET_ROLE", "1")
    out = run_demo(db)
    assert "the fetcher (SET ROLE) staged" in out
    check_story(db, out)
    # The rows were staged as the fetcher's actor, checked against current_user.
    assert fetch_all(
        db.admin_url,
        "SELECT DISTINCT a.actor_name FROM postings_staging AS s JOIN actors AS a USING (actor_id)",
    ) == [("db_job_fetcher",)]
