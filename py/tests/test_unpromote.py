"""Roll back a promoted run, and preview a promotion (issue 6)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from pgstaging import install
from pgstaging.errors import PermissionDenied
from support import allow_test_actors

EXAMPLE_SPEC = Path(__file__).resolve().parents[2] / "examples" / "specs" / "companies.sql"


def _snapshot(db, table: str, key: str) -> list[tuple]:
    """Production as text, row by row: byte-for-byte comparable."""
    with db.connect() as conn:
        return conn.execute(f"SELECT t::text FROM {table} AS t ORDER BY {key}").fetchall()


def _count(db, query: str, params=()) -> int:
    with db.connect() as conn:
        return conn.execute(query, params).fetchone()[0]


def test_dry_run_returns_the_real_summary_and_changes_nothing(
    db, owner, script, validator, actor_id
):
    run = owner.start_run()
    script.stage(
        "postings",
        run,
        actor_id,
        [{"job_id": "D1", "title": "a"}, {"job_id": "D1", "title": "b"}, {"title": "no id"}],
    )
    before = _snapshot(db, "postings", "posting_id")
    log_before = _count(db, "SELECT count(*) FROM pgstaging.promotion_log")
    with db.connect("validator_login", autocommit=True) as listener:
        listener.execute("LISTEN staging_alerts")
        preview = validator.promote("postings", run, dry_run=True).as_json()
        assert list(listener.notifies(timeout=0.5)) == []
    assert _snapshot(db, "postings", "posting_id") == before
    assert _count(db, "SELECT count(*) FROM postings_staging WHERE outcome IS NOT NULL") == 0
    assert _count(db, "SELECT count(*) FROM pgstaging.promotion_log") == log_before

    real = validator.promote("postings", run).as_json()

    def strip(summary):
        # Ids of rows a dry run would create are not the real call's (sequences move on).
        return {
            **summary,
            "details": {
                k: [{"staging_id": d["staging_id"]} for d in v]
                for k, v in summary["details"].items()
            },
        }

    assert strip(preview) == strip(real)
    assert preview["details"]["failed"] == real["details"]["failed"]


def test_round_trip_skip_policy_gives_production_back_byte_for_byte(
    db, owner, script, validator, actor_id
):
    earlier, run = owner.start_run(), owner.start_run()
    script.stage("postings", earlier, actor_id, [{"job_id": "K1", "title": "kept"}])
    validator.promote("postings", earlier)
    before = _snapshot(db, "postings", "posting_id")
    staged_before = _count(db, "SELECT count(*) FROM postings_staging")

    script.stage(
        "postings",
        run,
        actor_id,
        [
            {"job_id": "N1", "title": "new"},
            {"job_id": "N1", "title": "dup in run"},
            {"job_id": "K1", "title": "dup of earlier"},
            {"job_id": "N2"},
        ],
    )
    validator.promote("postings", run)
    result = validator.unpromote("postings", run, reason="wrong source")
    assert (result["deleted_count"], result["rolled_back_count"]) == (1, 2)
    assert _snapshot(db, "postings", "posting_id") == before
    # The staging history grows; nothing is deleted.
    assert _count(db, "SELECT count(*) FROM postings_staging") == staged_before + 4
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT outcome, promoted, rolled_back_by, rollback_reason FROM postings_staging "
            "WHERE workflow_run_id = %s ORDER BY staging_id",
            (run,),
        ).fetchall()
    assert rows == [
        ("rolled_back", False, "validator_login", "wrong source"),
        ("rolled_back", False, "validator_login", "wrong source"),
        ("duplicate", True, None, None),  # only linked to an earlier run's posting: stays
        ("failed", False, None, None),
    ]
    again = validator.unpromote("postings", run)
    assert (again["deleted_count"], again["rolled_back_count"]) == (0, 0)
    # ... and the run can be promoted again after a fix.
    assert validator.retry("postings", run).promoted_count == 1


def test_round_trip_update_policy_restores_pre_images(db, owner, validator, actor_id):
    install(db.owner_url, specs=[EXAMPLE_SPEC])
    allow_test_actors(db.owner_url)
    with db.client("script_login") as script:
        first, second = owner.start_run(), owner.start_run()
        script.stage(
            "companies",
            first,
            actor_id,
            [
                {
                    "registry": "DE1234",
                    "name": "Old",
                    "employees": 5,
                    "last_seen_at": "2024-01-01T00:00:00.123456+02:00",
                }
            ],
        )
        validator.promote("companies", first)
        before = _snapshot(db, "companies", "company_id")
        script.stage(
            "companies",
            second,
            actor_id,
            [
                {"registry": "DE1234", "name": "New", "employees": 6},
                {"registry": "FR5555", "name": "Fresh"},
            ],
        )
        summary = validator.promote("companies", second).as_json()
        assert (summary["updated_count"], summary["promoted_count"]) == (1, 1)
        assert _snapshot(db, "companies", "company_id") != before
        result = validator.unpromote("companies", second)
    assert (result["restored_count"], result["deleted_count"]) == (1, 1)
    assert _snapshot(db, "companies", "company_id") == before


def test_dependents_refuse_by_default_and_cascade_on_request(
    db, owner, script, validator, actor_id
):
    postings_run, skills_run = owner.start_run(), owner.start_run()
    script.stage("postings", postings_run, actor_id, [{"job_id": "C1", "title": "t"}])
    validator.promote("postings", postings_run)
    script.stage("job_skills", skills_run, actor_id, [{"job_id": "C1", "skill": "SQL"}])
    validator.promote("job_skills", skills_run)

    with (
        pytest.raises(psycopg.errors.ForeignKeyViolation) as refused,
        db.connect("validator_login") as conn,
    ):
        conn.execute("SELECT unpromote_postings_staging(%s)", (postings_run,))
    assert "job_skills.posting_id (1 rows)" in refused.value.diag.message_detail
    assert _count(db, "SELECT count(*) FROM postings") == 1

    result = validator.unpromote("postings", postings_run, cascade=True)
    (cascaded,) = result["details"]["cascaded"]
    assert (cascaded["table"], cascaded["deleted_count"]) == ("job_skills", 1)
    assert _count(db, "SELECT count(*) FROM job_skills") == 0
    assert _count(db, "SELECT count(*) FROM job_skills_staging WHERE outcome = 'rolled_back'") == 1


def test_unpromote_is_logged_and_alerted(db, owner, script, validator, actor_id):
    run = owner.start_run()
    script.stage("postings", run, actor_id, [{"job_id": "L1", "title": "t"}])
    validator.promote("postings", run)
    with db.connect("reader_login", autocommit=True) as listener:
        listener.execute("LISTEN staging_alerts")
        validator.unpromote("postings", run, reason="audit")
        (alert,) = list(listener.notifies(timeout=2, stop_after=1))
    assert '"action": "unpromote"' in alert.payload and '"reason": "audit"' in alert.payload
    assert (
        _count(
            db, "SELECT rolled_back_count FROM pgstaging.promotion_log WHERE action = 'unpromote'"
        )
        == 1
    )


@pytest.mark.parametrize("user", ["script_login", "reader_login", "nobody_login"])
def test_only_validators_may_unpromote(db, owner, user):
    run = owner.start_run()
    with db.client(user) as client, pytest.raises(PermissionDenied):
        client.unpromote("postings", run)


def test_a_run_that_updates_a_row_twice_can_be_undone(db, owner, validator, actor_id):
    install(db.owner_url, specs=[EXAMPLE_SPEC])
    allow_test_actors(db.owner_url)
    with db.client("script_login") as script:
        first, second = owner.start_run(), owner.start_run()
        script.stage("companies", first, actor_id, [{"registry": "AB1111", "name": "v0"}])
        validator.promote("companies", first)
        before = _snapshot(db, "companies", "company_id")
        script.stage("companies", second, actor_id, [{"registry": "AB1111", "name": "v1"}])
        validator.promote("companies", second)
        script.stage("companies", second, actor_id, [{"registry": "AB1111", "name": "v2"}])
        validator.promote("companies", second)
        result = validator.unpromote("companies", second)
    assert (result["restored_count"], result["rolled_back_count"]) == (1, 2)
    assert _snapshot(db, "companies", "company_id") == before


def test_undo_after_retry_never_restores_a_stale_pre_image(db, owner, validator, actor_id):
    install(db.owner_url, specs=[EXAMPLE_SPEC])
    allow_test_actors(db.owner_url)
    with db.client("script_login") as script:
        runs = [owner.start_run() for _ in range(3)]
        for run, name in zip(runs, ("v0", "v1", "v2"), strict=True):
            script.stage("companies", run, actor_id, [{"registry": "CD2222", "name": name}])
        validator.promote("companies", runs[0])
        validator.promote("companies", runs[1])
        validator.unpromote("companies", runs[1])
        validator.promote("companies", runs[2])
        assert validator.retry("companies", runs[1]).as_json()["updated_count"] == 1
        # runs[1] changed the row after runs[2]: undoing it gives back runs[2]'s version.
        validator.unpromote("companies", runs[1])
    with db.connect() as conn:
        assert conn.execute("SELECT name FROM companies").fetchall() == [("v2",)]
