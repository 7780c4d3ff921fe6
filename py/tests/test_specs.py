"""Spec-driven staged tables (issue 3): the design's four tables, a fifth from
one spec file, versioned rules, retry, re-stage, update policy, batch mode,
alerts and health. Real logins on a real server."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest
from pgstaging import install
from pgstaging.errors import PermissionDenied
from support import allow_test_actors

EXAMPLE_SPEC = Path(__file__).resolve().parents[2] / "examples" / "specs" / "companies.sql"


def _rows(db, query, params=(), user="pgstaging_owner"):
    with db.connect(user) as conn:
        return conn.execute(query, params).fetchall()


def _outcomes(db, table, run_id):
    return [
        r[0]
        for r in _rows(
            db,
            f"SELECT coalesce(outcome, 'pending') FROM {table}_staging "
            "WHERE workflow_run_id = %s ORDER BY staging_id",
            (run_id,),
        )
    ]


def test_every_design_table_is_registered_with_its_functions(db):
    tables = _rows(db, "SELECT table_name, rule_version FROM pgstaging.staged_tables ORDER BY 1")
    assert tables == [
        ("job_skills", 1),
        ("postings", 1),
        ("profile_skills", 1),
        ("skill_aliases", 1),
    ]
    for table, _ in tables:
        for signature in (
            f"promote_{table}_staging(integer, boolean, bigint, boolean)",
            f"retry_{table}_staging(integer, bigint, boolean)",
            f"unpromote_{table}_staging(integer, text, boolean, bigint)",
        ):
            (found,) = _rows(db, "SELECT to_regprocedure(%s) IS NOT NULL", (signature,))[0]
            assert found, signature


def test_profile_skills_rules(script, validator, run_id, actor_id):
    ids = script.stage(
        "profile_skills",
        run_id,
        actor_id,
        [
            {"profile_id": 7, "skill": " SQL ", "proficiency": "Expert"},
            {"profile_id": "7", "skill": "sql"},  # same key, case-insensitively
            {"profile_id": 7, "skill": "Go", "proficiency": "guru"},
            {"profile_id": 1.5, "skill": "Rust"},
            {"profile_id": 99999999999, "skill": "C"},
            {"skill": "Java"},
        ],
    )
    result = validator.promote("profile_skills", run_id).as_json()
    assert (result["promoted_count"], result["duplicate_count"], result["failed_count"]) == (
        1,
        1,
        4,
    )
    errors = {f["staging_id"]: f["errors"] for f in result["details"]["failed"]}
    assert errors[ids[2]] == [
        {"field": "proficiency", "error": "not one of: beginner, intermediate, advanced, expert"}
    ]
    assert errors[ids[3]] == [{"field": "profile_id", "error": "not an integer"}]
    assert errors[ids[4]] == [{"field": "profile_id", "error": "out of range"}]
    assert errors[ids[5]] == [{"field": "profile_id", "error": "missing"}]


def test_skill_aliases_unique_case_insensitively_and_never_to_itself(
    db, script, validator, run_id, actor_id
):
    script.stage(
        "skill_aliases",
        run_id,
        actor_id,
        [
            {"alias": "py", "canonical": "Python"},
            {"alias": "PY", "canonical": "python3"},
            {"alias": "Go", "canonical": " go "},
        ],
    )
    result = validator.promote("skill_aliases", run_id).as_json()
    assert (result["promoted_count"], result["duplicate_count"], result["failed_count"]) == (
        1,
        1,
        1,
    )
    assert result["details"]["failed"][0]["errors"] == [
        {"field": "canonical", "error": "maps to itself"}
    ]
    assert _rows(db, "SELECT alias, canonical FROM skill_aliases") == [("py", "Python")]


def test_job_skill_fails_until_its_posting_exists_then_retry_promotes_it(
    db, owner, script, validator, actor_id
):
    skills_run, postings_run = owner.start_run(), owner.start_run()
    ids = script.stage(
        "job_skills",
        skills_run,
        actor_id,
        [
            {"job_id": "J-9", "skill": "Kafka"},
            {"job_id": "J-9", "skill": "SQL", "importance": "nice"},
        ],
    )
    first = validator.promote("job_skills", skills_run).as_json()
    assert first["failed_count"] == 2
    assert first["details"]["failed"][0]["errors"] == [{"field": "posting", "error": "not found"}]

    script.stage("postings", postings_run, actor_id, [{"job_id": "J-9", "title": "Engineer"}])
    (posting,) = validator.promote("postings", postings_run).promoted

    retried = validator.retry("job_skills", skills_run).as_json()
    assert (retried["promoted_count"], retried["failed_count"]) == (1, 1)
    assert _rows(db, "SELECT posting_id, skill, importance FROM job_skills") == [
        (posting["posting_id"], "Kafka", "required")
    ]
    # The replaced verdicts are kept, not lost.
    kept = _rows(
        db,
        "SELECT staging_id, outcome FROM pgstaging.superseded_verdicts "
        "WHERE table_name = 'job_skills' ORDER BY staging_id",
    )
    assert kept == [(ids[0], "failed"), (ids[1], "failed")]
    assert _outcomes(db, "job_skills", skills_run) == ["promoted", "failed"]


def test_job_skill_by_posting_id(db, owner, script, validator, actor_id):
    run = owner.start_run()
    script.stage("postings", run, actor_id, [{"job_id": "P-1", "title": "Analyst"}])
    (posting,) = validator.promote("postings", run).promoted
    script.stage(
        "job_skills", run, actor_id, [{"posting_id": posting["posting_id"], "skill": "Excel"}]
    )
    assert validator.promote("job_skills", run).promoted_count == 1


def test_changed_rules_are_a_new_version_and_old_verdicts_keep_theirs(
    db, script, validator, run_id, actor_id
):
    script.stage("skill_aliases", run_id, actor_id, [{"alias": "k8s", "canonical": "Kubernetes"}])
    validator.promote("skill_aliases", run_id)
    with db.connect() as conn:
        (spec,) = conn.execute(
            "SELECT spec FROM pgstaging.staged_tables WHERE table_name = 'skill_aliases'"
        ).fetchone()
        spec["fields"][0]["max_length"] = 2
        (version,) = conn.execute(
            "SELECT pgstaging.register_staged_table(%s)", (psycopg.types.json.Jsonb(spec),)
        ).fetchone()
        (same,) = conn.execute(
            "SELECT pgstaging.register_staged_table(%s)", (psycopg.types.json.Jsonb(spec),)
        ).fetchone()
    assert (version, same) == (2, 2)
    script.stage("skill_aliases", run_id, actor_id, [{"alias": "tf", "canonical": "Terraform"}])
    script.stage("skill_aliases", run_id, actor_id, [{"alias": "gcp", "canonical": "Google"}])
    result = validator.promote("skill_aliases", run_id).as_json()
    assert (result["promoted_count"], result["failed_count"]) == (1, 1)
    assert _rows(
        db, "SELECT raw_data ->> 'alias', rule_version FROM skill_aliases_staging ORDER BY 1"
    ) == [("gcp", 2), ("k8s", 1), ("tf", 2)]


def test_owner_restages_a_corrected_row_and_the_original_stays(
    db, owner, script, validator, run_id, actor_id
):
    (bad,) = script.stage("postings", run_id, actor_id, [{"job_id": "R-1", "title": ""}])
    assert validator.promote("postings", run_id).failed_count == 1
    new_id = owner.restage("postings", bad, {"job_id": "R-1", "title": "Fixed title"})
    assert validator.promote("postings", run_id).promoted_count == 1
    assert _rows(
        db,
        "SELECT staging_id, outcome, supersedes_staging_id, raw_data ->> 'title' "
        "FROM postings_staging ORDER BY staging_id",
    ) == [(bad, "superseded", None, ""), (new_id, "promoted", bad, "Fixed title")]


def test_a_script_cannot_restage(script, run_id, actor_id):
    (bad,) = script.stage("postings", run_id, actor_id, [{"job_id": "R-2"}])
    with pytest.raises(PermissionDenied):
        script.restage("postings", bad, {"job_id": "R-2", "title": "x"})


def _names(db, registry):
    return _rows(db, "SELECT name FROM companies WHERE registry_number = %s", (registry,))


def test_update_policy_the_newest_staged_row_of_a_key_wins(db, owner, validator, actor_id):
    """Within one call, whatever the run or batch: the newest row of a key
    writes production; older ones, and an unchanged newest, are duplicates."""
    install(db.owner_url, specs=[EXAMPLE_SPEC])
    allow_test_actors(db.owner_url)
    with db.client("script_login") as script:
        first, second, third = owner.start_run(), owner.start_run(), owner.start_run()
        script.stage("companies", first, actor_id, [{"registry": "NW1000", "name": "A"}])
        validator.promote("companies", first)
        script.stage(
            "companies",
            second,
            actor_id,
            [{"registry": "NW1000", "name": "B"}, {"registry": "NW1000", "name": "C"}],
        )
        assert validator.promote("companies", second).as_json()["updated_count"] == 1
        assert _names(db, "NW1000") == [("C",)]
        assert _outcomes(db, "companies", second) == ["duplicate", "updated"]

        # The newest row is unchanged: nothing is written, an older change is not applied.
        script.stage(
            "companies",
            third,
            actor_id,
            [{"registry": "NW1000", "name": "D"}, {"registry": "NW1000", "name": "C"}],
        )
        summary = validator.promote("companies", third).as_json()
        assert (summary["updated_count"], summary["duplicate_count"]) == (0, 2)
        assert _names(db, "NW1000") == [("C",)]

        # Batch mode across runs: the newer run's row wins, as run by run.
        runs = owner.start_run(), owner.start_run()
        for run, name in zip(runs, ("E", "F"), strict=True):
            script.stage("companies", run, actor_id, [{"registry": "NW1000", "name": name}])
        validator.promote_batch("companies")
        assert _names(db, "NW1000") == [("F",)]
        assert [_outcomes(db, "companies", run) for run in runs] == [["duplicate"], ["updated"]]


def test_promote_all_stops_when_a_batch_gives_no_verdict(db, owner, actor_id):
    """A row that can never be written (here a user's trigger on production
    drops it) stays pending; batch mode says so instead of looping on it."""
    with db.connect() as conn:
        conn.execute(
            "CREATE FUNCTION public.drop_swallowed() RETURNS trigger LANGUAGE plpgsql AS"
            " $$BEGIN IF NEW.job_title = 'swallowed' THEN RETURN NULL; END IF; RETURN NEW; END$$"
        )
        conn.execute(
            "CREATE TRIGGER drop_swallowed BEFORE INSERT ON postings"
            " FOR EACH ROW EXECUTE FUNCTION public.drop_swallowed()"
        )
    run = owner.start_run()
    with db.client("script_login") as script:
        script.stage("postings", run, actor_id, [{"job_id": "SW-1", "title": "swallowed"}])
    with db.client("validator_login") as validator:
        totals = validator.promote_all("postings", batch_size=10)
    assert (totals["batches"], totals["left_pending"], totals["promoted_count"]) == (1, 1, 0)
    assert _outcomes(db, "postings", run) == ["pending"]


def test_fifth_table_from_one_spec_file_with_update_policy(db, owner, validator, actor_id):
    result = install(db.owner_url, specs=[EXAMPLE_SPEC])
    assert result.changed
    assert not install(db.owner_url, specs=[EXAMPLE_SPEC]).changed
    allow_test_actors(db.owner_url)
    allow_test_actors(db.owner_url)
    with db.client("script_login") as script:
        first, second = owner.start_run(), owner.start_run()
        script.stage(
            "companies",
            first,
            actor_id,
            [
                {
                    "registry": " de12345 ",
                    "name": "Acme  GmbH",
                    "employees": "12",
                    "founded": "1999-02-28",
                    "listed": "yes",
                    "revenue_eur": "1.5e6",
                    "last_seen_at": "2024-05-01T10:00:00Z",
                },
                {
                    "registry": "XX1",
                    "name": "Bad",
                    "employees": -1,
                    "founded": "2023-02-30",
                    "listed": "maybe",
                    "revenue_eur": "NaN",
                    "last_seen_at": "yesterday",
                },
                {"registry": "FR99999", "name": "Zero", "listed": True},
            ],
        )
        one = validator.promote("companies", first).as_json()
        assert (one["promoted_count"], one["failed_count"]) == (1, 2)
        assert {e["error"] for f in one["details"]["failed"] for e in f["errors"]} == {
            "does not match pattern",
            "too small",
            "not a date",
            "not a boolean",
            "not a number",
            "not a timestamp",
            "a listed company has employees",
        }
        script.stage(
            "companies",
            second,
            actor_id,
            [
                {"registry": "DE12345", "name": "Acme AG", "employees": 13, "listed": True},
                {"registry": "DE12345", "name": "Acme AG", "employees": 13, "listed": True},
            ],
        )
        two = validator.promote("companies", second).as_json()
    assert (two["updated_count"], two["duplicate_count"], two["promoted_count"]) == (1, 1, 0)
    assert _rows(
        db,
        "SELECT registry_number, name, employees, updated_by_staging_id IS NOT NULL FROM companies",
    ) == [("DE12345", "Acme AG", 13, True)]


def test_batch_mode_shares_the_backlog_between_validators(db, owner, script, actor_id):
    runs = [owner.start_run() for _ in range(3)]
    for run in runs:
        script.stage(
            "postings",
            run,
            actor_id,
            [{"job_id": f"B-{i % 150}", "title": f"T{i}"} for i in range(200)],
        )
    errors: list[BaseException] = []
    totals: list[dict] = []

    def work() -> None:
        try:
            with db.client("validator_login") as client:
                totals.append(client.promote_all("postings", batch_size=50))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(t["rows"] for t in totals) == 600
    assert sum(t["promoted_count"] for t in totals) == 150
    assert _rows(db, "SELECT count(*) FROM postings_staging WHERE outcome IS NULL") == [(0,)]
    assert _rows(db, "SELECT count(*), count(DISTINCT external_job_id) FROM postings") == [
        (150, 150)
    ]


def test_failures_send_an_alert_and_are_logged(db, script, validator, run_id, actor_id):
    with db.client("validator_login") as listener:
        listener.conn.autocommit = True
        alerts = listener.alerts(timeout=5)
        script.stage(
            "postings", run_id, actor_id, [{"job_id": "A-1"}, {"job_id": "A-2", "title": "t"}]
        )
        received: list[dict] = []

        def promote_later() -> None:
            validator.promote("postings", run_id)

        timer = threading.Timer(0.5, promote_later)
        timer.start()
        received.append(next(alerts))
        timer.join()
    assert received[0]["table"] == "postings"
    assert received[0]["workflow_run_id"] == run_id
    assert (received[0]["promoted_count"], received[0]["failed_count"]) == (1, 1)
    log = _rows(
        db,
        "SELECT action, called_by, rule_version, promoted_count, failed_count, duration >= '0' "
        "FROM pgstaging.promotion_log WHERE workflow_run_id = %s",
        (run_id,),
    )
    assert log == [("promote", "validator_login", 1, 1, 1, True)]


def test_health_shows_backlog_failures_and_unknown_keys(db, script, validator, owner, actor_id):
    run, other = owner.start_run(), owner.start_run()
    script.stage(
        "postings", run, actor_id, [{"job_id": 1, "titel": "typo"}, {"job_id": 2, "title": "ok"}]
    )
    script.stage("postings", other, actor_id, [{"job_id": 3, "title": "waits"}])
    validator.promote("postings", run)
    (health,) = [h for h in validator.health() if h.table_name == "postings"]
    assert health.pending_count == 1
    assert health.oldest_pending_age is not None
    assert (health.judged_count, health.failed_count) == (2, 1)
    assert health.failures_by_error == [{"field": "title", "error": "missing", "count": 1}]
    assert health.unknown_keys == [{"key": "titel", "rows": 1}]
    assert health.failures_by_actor[0]["actor_id"] == actor_id


def _register(db, spec):
    with db.connect() as conn:
        version = conn.execute(
            "SELECT pgstaging.register_staged_table(%s)", (psycopg.types.json.Jsonb(spec),)
        ).fetchone()[0]
    allow_test_actors(db.owner_url)
    return version


def test_a_natural_key_that_may_be_null_is_refused(db):
    spec = {
        "table": "regions",
        "id_column": "region_id",
        "natural_key": ["code", "country"],
        "fields": [{"column": "code", "required": True}, {"column": "country"}],
    }
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="must be required"):
        _register(db, spec)


def test_a_rule_naming_an_unqualified_table_is_refused_at_registration(db):
    with db.connect() as conn:
        conn.execute("CREATE TABLE public.banned_words (word text)")
    spec = {
        "table": "tags",
        "id_column": "tag_id",
        "natural_key": ["tag"],
        "fields": [{"column": "tag", "required": True}],
        "rules": [
            {
                "field": "tag",
                "error": "banned",
                "check": "NOT EXISTS (SELECT 1 FROM banned_words AS b WHERE b.word = tag)",
            }
        ],
    }
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="do not compile"):
        _register(db, spec)
    spec["rules"][0]["check"] = (
        "NOT EXISTS (SELECT 1 FROM public.banned_words AS b WHERE b.word = tag)"
    )
    assert _register(db, spec) == 1


def test_hostile_offsets_and_huge_numbers_fail_the_row_not_the_call(db, owner, validator, actor_id):
    install(db.owner_url, specs=[EXAMPLE_SPEC])
    allow_test_actors(db.owner_url)
    run = owner.start_run()
    with db.client("script_login") as script:
        script.stage(
            "companies",
            run,
            actor_id,
            [
                {"registry": "DE1234", "name": "a", "last_seen_at": "2023-01-01T10:00:00+05:99"},
                {"registry": "DE1235", "name": "b", "revenue_eur": "9" * 600},
                {"registry": "DE1236", "name": "c", "revenue_eur": "1x5"},
            ],
        )
    result = validator.promote("companies", run).as_json()
    assert [f["errors"] for f in result["details"]["failed"]] == [
        [{"field": "last_seen_at", "error": "not a timestamp"}],
        [{"field": "revenue_eur", "error": "not a number"}],
        [{"field": "revenue_eur", "error": "not a number"}],
    ]


def test_a_script_cannot_block_promotion_with_advisory_locks(db, script, run_id, actor_id):
    script.stage("postings", run_id, actor_id, [{"job_id": "AL-1", "title": "t"}])
    with db.connect("script_login") as squatter:
        for key in range(-3, 4):
            squatter.execute("SELECT pg_advisory_lock(hashtext('pgstaging.postings'), %s)", (key,))
        squatter.execute("SELECT pg_advisory_lock(hashtext('pgstaging.postings'), %s)", (run_id,))
        with db.connect("validator_login", options="-c lock_timeout=2s") as conn:
            (summary,) = conn.execute("SELECT promote_postings_staging(%s)", (run_id,)).fetchone()
    assert summary["promoted_count"] == 1


def test_batch_and_per_run_promotion_do_not_deadlock(db, owner, script, actor_id):
    run = owner.start_run()
    script.stage_copy(
        "postings",
        run,
        actor_id,
        ({"job_id": f"DL-{i}", "title": "t", "description": "x" * 200} for i in range(20000)),
    )
    errors: list[BaseException] = []
    results: dict[str, object] = {}

    def per_run() -> None:
        try:
            with db.client("validator_login") as client:
                client.retries = 0
                results["run"] = client.promote("postings", run).promoted_count
        except BaseException as error:  # reported below
            errors.append(error)

    def batch() -> None:
        try:
            with db.client("validator_login") as client:
                client.retries = 0
                results["batch"] = client.promote_all("postings", batch_size=5000)
        except BaseException as error:  # reported below
            errors.append(error)

    first = threading.Thread(target=per_run)
    first.start()
    second = threading.Timer(0.2, batch)
    second.start()
    first.join(120)
    second.join(120)
    assert not errors
    assert results["run"] + results["batch"]["promoted_count"] == 20000
    assert _rows(db, "SELECT count(*) FROM postings_staging WHERE outcome IS NULL") == [(0,)]


def test_changing_the_key_to_case_insensitive_rebuilds_it(db, owner, script, validator, actor_id):
    spec = {
        "table": "labels",
        "id_column": "label_id",
        "natural_key": ["label"],
        "fields": [{"column": "label", "required": True}],
    }
    _register(db, spec)
    spec["fields"][0]["case_insensitive"] = True
    assert _register(db, spec) == 2
    run = owner.start_run()
    allow_test_actors(db.owner_url)
    script.stage("labels", run, actor_id, [{"label": "Urgent"}, {"label": "URGENT"}])
    result = validator.promote("labels", run).as_json()
    assert (result["promoted_count"], result["duplicate_count"]) == (1, 1)
    spec["fields"][0]["case_insensitive"] = False
    assert _register(db, spec) == 3
