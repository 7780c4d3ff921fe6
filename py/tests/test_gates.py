"""Runs that fail fast: a table's gate holds a run that breaks it, and
specs the owner changed survive reinstalls; restaged originals are superseded."""

from __future__ import annotations

import json

import psycopg
from pgstaging import install
from support import fetch_all, fetch_one, run_cli

GATE = {"max_failure_rate": 0.2, "min_rows": 1}


def gated_postings(db, gate=GATE) -> dict:
    spec = fetch_one(
        db.owner_url, "SELECT spec FROM pgstaging.staged_tables WHERE table_name = 'postings'"
    )[0]
    spec = spec | {"gate": gate}
    with db.connect(autocommit=True) as conn:
        conn.execute(
            "SELECT pgstaging.register_staged_table(%s)", (psycopg.types.json.Jsonb(spec),)
        )
    return spec


def half_bad(n: int = 10) -> list[dict]:
    return [{"job_id": f"G-{i}", "title": "Engineer" if i % 2 else ""} for i in range(n)]


def outcomes(db, run: int) -> dict:
    return dict(
        fetch_all(
            db.owner_url,
            "SELECT coalesce(outcome, 'pending'), count(*) FROM postings_staging"
            " WHERE workflow_run_id = %s GROUP BY 1",
            (run,),
        )
    )


def test_a_run_that_breaks_its_gate_promotes_nothing(db, owner, script, validator, actor_id):
    gated_postings(db)
    run = owner.start_run()
    script.stage("postings", run, actor_id, half_bad())
    result = validator.promote("postings", run)
    assert result.status == "FAILED"
    assert result.gate == {"rule": "max_failure_rate", "limit": 0.2, "actual": 0.5}
    assert result.summary["held_count"] == 5
    assert (result.promoted_count, result.failed_count) == (0, 5)
    assert outcomes(db, run) == {"failed": 5, "pending": 5}
    assert fetch_one(db.owner_url, "SELECT count(*) FROM postings")[0] == 0
    assert fetch_one(
        db.owner_url, "SELECT status FROM pgstaging.runs WHERE workflow_run_id = %s", (run,)
    ) == ("failed",)
    (alert,) = fetch_all(
        db.owner_url,
        "SELECT payload FROM pgstaging.alerts WHERE payload ->> 'workflow_run_id' = %s",
        (str(run),),
    )
    assert alert[0]["gate"]["rule"] == "max_failure_rate" and alert[0]["held_count"] == 5
    # Calling again does not get past it: the earlier verdicts count.
    again = validator.promote("postings", run)
    assert (again.status, again.promoted_count, again.summary["held_count"]) == ("FAILED", 0, 5)
    # A dry run reports the gate too, and changes nothing.
    dry = validator.promote("postings", run, dry_run=True)
    assert dry.status == "FAILED" and dry.gate["rule"] == "max_failure_rate"
    # Ignoring it promotes, and the log says so.
    forced = validator.promote("postings", run, ignore_gate=True, interaction_id=77)
    assert (forced.status, forced.promoted_count) == ("SUCCESS", 5)
    assert forced.gate["ignored"] is True
    logged = fetch_one(
        db.owner_url,
        "SELECT gate, interaction_id FROM pgstaging.promotion_log WHERE workflow_run_id = %s"
        " ORDER BY log_id DESC LIMIT 1",
        (run,),
    )
    assert logged[0]["ignored"] is True and logged[1] == 77


def test_min_rows_fails_an_empty_run(db, owner, validator):
    gated_postings(db)
    run = owner.start_run()
    result = validator.promote("postings", run)
    assert result.status == "FAILED"
    assert result.gate == {"rule": "min_rows", "limit": 1, "actual": 0}


def test_a_run_within_its_gate_promotes(db, owner, script, validator, actor_id):
    gated_postings(db)
    run = owner.start_run()
    script.stage(
        "postings",
        run,
        actor_id,
        [{"job_id": f"OK-{i}", "title": "t"} for i in range(9)] + [{"job_id": "X"}],
    )
    result = validator.promote("postings", run)
    assert (result.status, result.promoted_count, result.failed_count) == ("SUCCESS", 9, 1)
    assert "gate" not in result.summary


def test_the_cli_and_the_validator_exit_with_the_gate_code(db, owner, script, actor_id):
    gated_postings(db)
    run = owner.start_run()
    script.stage("postings", run, actor_id, half_bad())
    done = run_cli("promote", "postings", "--run", str(run), url=db.url("validator_login"))
    assert done.returncode == 9, done
    assert json.loads(done.stdout)["status"] == "FAILED"
    assert "broke its gate" in done.stderr
    from support import run_module

    actor = run_module(
        "pgstaging.actors.validate_postings",
        url=db.url("validator_login"),
        input=json.dumps({"workflow_run_id": run}),
    )
    assert actor.returncode == 9
    assert json.loads(actor.stdout)["gate"]["rule"] == "max_failure_rate"


def test_batch_mode_judges_the_gate_per_run(db, owner, script, validator, actor_id):
    gated_postings(db)
    bad, good = owner.start_run(), owner.start_run()
    script.stage("postings", bad, actor_id, half_bad())
    script.stage("postings", good, actor_id, [{"job_id": f"B-{i}", "title": "t"} for i in range(4)])
    totals = validator.promote_all("postings")
    assert totals["promoted_count"] == 4
    assert outcomes(db, bad) == {"failed": 5, "pending": 5}
    assert outcomes(db, good) == {"promoted": 4}


def test_reinstall_keeps_the_owners_spec(db, owner):
    spec = gated_postings(db, {"max_failure_rate": 0.5})
    version = fetch_one(
        db.owner_url,
        "SELECT rule_version FROM pgstaging.staged_tables WHERE table_name = 'postings'",
    )[0]
    for force in (False, True, True):
        install(db.owner_url, force=force)
    after = fetch_one(
        db.owner_url,
        "SELECT spec, rule_version FROM pgstaging.staged_tables WHERE table_name = 'postings'",
    )
    assert after == (spec, version)
    versions = fetch_one(
        db.owner_url, "SELECT count(*) FROM pgstaging.rule_versions WHERE table_name = 'postings'"
    )[0]
    assert versions == version


def test_a_restaged_original_is_superseded_not_an_open_failure(
    db, owner, script, validator, actor_id
):
    run = owner.start_run()
    (bad,) = script.stage("postings", run, actor_id, [{"job_id": "R-1"}])
    validator.promote("postings", run)
    fixed = owner.restage("postings", bad, {"job_id": "R-1", "title": "Fixed"})
    assert validator.failures("postings", run) == []
    validator.promote("postings", run)
    (row,) = [r for r in validator.status(run) if r.table_name == "postings"]
    assert (row.staged, row.superseded, row.promoted, row.failed) == (2, 1, 1, 0)
    assert fetch_one(
        db.owner_url, "SELECT outcome FROM postings_staging WHERE staging_id = %s", (bad,)
    ) == ("superseded",)
    assert fixed > bad
