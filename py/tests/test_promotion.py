"""Promotion semantics through the Python client, as real logins."""

from __future__ import annotations


def test_design_summary_shape_and_ledger(script, validator, run_id, actor_id):
    ids = script.stage(
        "postings",
        run_id,
        actor_id,
        [
            {"job_id": "J1", "title": " Engineer "},
            {"job_id": "J1", "title": "Engineer again"},
            {"job_id": "J2"},
        ],
    )
    assert len(ids) == 3 and ids == sorted(ids)

    result = validator.promote("postings", run_id)

    assert result.as_json() == {
        "status": "SUCCESS",
        "promoted_count": 1,
        "duplicate_count": 1,
        "failed_count": 1,
        "details": {
            "promoted": [{"staging_id": ids[0], "posting_id": result.promoted[0]["posting_id"]}],
            "duplicates": [{"staging_id": ids[1], "posting_id": result.promoted[0]["posting_id"]}],
            "failed": [{"staging_id": ids[2], "errors": [{"field": "title", "error": "missing"}]}],
        },
    }
    (status,) = [s for s in validator.status(run_id) if s.table_name == "postings"]
    ledger = (status.staged, status.pending, status.promoted, status.duplicate, status.failed)
    assert ledger == (3, 0, 1, 1, 1)


def test_second_call_changes_nothing(script, validator, run_id, actor_id):
    script.stage("postings", run_id, actor_id, [{"job_id": 1, "title": "t"}])
    assert validator.promote("postings", run_id).promoted_count == 1
    again = validator.promote("postings", run_id)
    assert (again.promoted_count, again.duplicate_count, again.failed_count) == (0, 0, 0)


def test_a_key_taken_by_a_racing_validator_is_a_duplicate_in_the_same_call(
    db, owner, script, actor_id
):
    """The promotion's snapshot cannot see the racing insert; the leftover
    statement, with a fresh snapshot, still gives the row its verdict."""
    import threading
    import time

    first, second = owner.start_run(), owner.start_run()
    script.stage("postings", first, actor_id, [{"job_id": "RACE-1", "title": "a"}])
    script.stage("postings", second, actor_id, [{"job_id": "RACE-1", "title": "b"}])
    with db.connect("validator_login") as holder:
        holder.execute("SELECT promote_postings_staging(%s)", (first,))  # not committed yet
        outcome: dict = {}

        def racer() -> None:
            with db.client("validator_login") as client:
                outcome["summary"] = client.promote("postings", second).as_json()

        thread = threading.Thread(target=racer)
        thread.start()
        time.sleep(0.5)  # the racer is now waiting on RACE-1's unique-index entry
        holder.commit()
        thread.join(30)
    summary = outcome["summary"]
    assert (summary["promoted_count"], summary["duplicate_count"]) == (0, 1)
    with db.connect() as conn:
        (pending,) = conn.execute(
            "SELECT count(*) FROM postings_staging WHERE outcome IS NULL"
        ).fetchone()
    assert pending == 0


def test_details_are_capped_per_list_and_counts_stay_exact(script, validator, run_id, actor_id):
    """10,000 entries per details list, the lowest staging_ids first; counts exact.

    The promoted rows are summarized by the first statement, the duplicates
    and failures by the second; the merged summary keeps both caps.
    """
    documents = [{"job_id": f"CAP-{n}", "title": "t"} for n in range(10_002)]
    documents += [{"job_id": "CAP-0", "title": "again"}] * 3 + [{"job_id": "CAP-x"}] * 2
    ids = script.stage("postings", run_id, actor_id, documents)

    summary = validator.promote("postings", run_id).as_json()

    assert (summary["promoted_count"], summary["duplicate_count"], summary["failed_count"]) == (
        10_002,
        3,
        2,
    )
    assert summary["details_truncated"] is True
    assert [d["staging_id"] for d in summary["details"]["promoted"]] == ids[:10_000]
    assert [d["staging_id"] for d in summary["details"]["duplicates"]] == ids[10_002:10_005]
    assert [d["staging_id"] for d in summary["details"]["failed"]] == ids[10_005:]


def test_details_within_the_cap_are_not_marked_truncated(script, validator, run_id, actor_id):
    script.stage(
        "postings", run_id, actor_id, [{"job_id": "NT-1", "title": "t"}, {"job_id": "NT-1"}]
    )
    summary = validator.promote("postings", run_id).as_json()
    assert "details_truncated" not in summary


def test_statistics_from_when_nothing_was_pending_keep_promotion_linear(
    db, owner, script, actor_id
):
    """ANALYZE while nothing is pending puts the pending index at one row (a
    steady state: autovacuum analyzes after a promotion, and the next run is
    below its threshold). Both statements must still drive their joins from
    their own rows: a plan driven from that index rescanned them per row
    (313 s for 20k rows). Not a benchmark: the timeout only catches that."""
    with db.connect() as conn:
        conn.execute("ALTER TABLE postings_staging SET (autovacuum_enabled = false)")
    first = owner.start_run()
    script.stage_copy("postings", first, actor_id, [{"job_id": "ST-0", "title": "t"}])
    with db.client("validator_login") as validator:
        validator.promote("postings", first)
    with db.connect() as conn:
        conn.execute("ANALYZE postings_staging")

    second = owner.start_run()
    documents = (
        {"job_id": f"ST-{n % 7_000}", "title": "t"} if n % 20 else {"job_id": f"ST-{n}"}
        for n in range(10_000)
    )
    assert script.stage_copy("postings", second, actor_id, documents) == 10_000
    with db.connect("validator_login", options="-c statement_timeout=20s") as conn:
        (summary,) = conn.execute("SELECT promote_postings_staging(%s)", (second,)).fetchone()
    assert (summary["promoted_count"], summary["duplicate_count"], summary["failed_count"]) == (
        6_650,
        2_850,
        500,
    )
