"""Patches, the design's Step 4: a parser changes one field of a posting.

A patch names a production row by its natural key and carries only the
fields it changes; the rest keep their production values.
"""

from __future__ import annotations

import threading

import psycopg
from support import fetch_all, fetch_one

POSTING = (
    "SELECT job_title, job_description, location, updated_by_staging_id"
    " FROM postings WHERE external_job_id = %s"
)


def allow_patch(db, actor: str, table: str, fields: list[str]) -> int:
    """An actor bound to script_login with the patch right on ``fields``."""
    with db.connect(autocommit=True) as conn:
        if conn.execute(
            "SELECT to_regprocedure('pgstaging.allow_actor(text,text,text,text[])')"
        ).fetchone()[0]:
            actor_id = conn.execute(
                "SELECT pgstaging.add_actor(%s, 'script_login')", (actor,)
            ).fetchone()[0]
            conn.execute(
                "SELECT pgstaging.allow_actor(%s, %s, 'patch', %s)", (actor, table, fields)
            )
            conn.execute("SELECT pgstaging.allow_actor(%s, %s, 'stage')", (actor, table))
            return actor_id
        actor_id = conn.execute(
            "INSERT INTO actors (actor_name) VALUES (%s) RETURNING actor_id", (actor,)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO pgstaging.actor_rights (actor_id, table_name, right_name, fields)"
            " VALUES (%s, %s, 'patch', %s)",
            (actor_id, table, fields),
        )
        return actor_id


def stage_patches(db, run: int, actor_id: int, documents: list[dict]) -> list[int]:
    with db.connect("script_login", autocommit=True) as conn:
        return [
            conn.execute(
                "INSERT INTO postings_staging (workflow_run_id, actor_id, raw_data, operation)"
                " VALUES (%s, %s, %s, 'patch') RETURNING staging_id",
                (run, actor_id, psycopg.types.json.Jsonb(d)),
            ).fetchone()[0]
            for d in documents
        ]


def fetched(owner, script, validator, actor_id, jobs):
    run = owner.start_run()
    script.stage("postings", run, actor_id, jobs)
    validator.promote("postings", run)
    return run


JOBS = [
    {
        "job_id": "DB-1004",
        "title": "Engineer",
        "description": "raw <b>text</b>",
        "location": "Berlin",
    },
    {"job_id": "DB-1005", "title": "Analyst", "description": "raw", "location": "Paris"},
]


def test_a_patch_changes_only_the_fields_it_carries(db, owner, script, validator, actor_id):
    fetched(owner, script, validator, actor_id, JOBS)
    parser = allow_patch(db, "db_job_parser", "postings", ["description"])
    run = owner.start_run()
    (sid,) = stage_patches(db, run, parser, [{"job_id": "DB-1004", "description": "parsed text"}])
    result = validator.promote("postings", run)
    assert result.summary["updated_count"] == 1
    assert result.summary["details"]["updated"] == [
        {"staging_id": sid, "posting_id": result.summary["details"]["updated"][0]["posting_id"]}
    ]
    assert fetch_one(db.owner_url, POSTING, ("DB-1004",)) == (
        "Engineer",
        "parsed text",
        "Berlin",
        sid,
    )
    assert fetch_one(db.owner_url, POSTING, ("DB-1005",))[1] == "raw"


def test_patch_refusals_are_verdicts_with_reasons(db, owner, script, validator, actor_id):
    fetched(owner, script, validator, actor_id, JOBS)
    parser = allow_patch(db, "db_job_parser", "postings", ["description"])
    run = owner.start_run()
    ids = stage_patches(
        db,
        run,
        parser,
        [
            {"job_id": "DB-1004", "title": "Boss"},  # outside the right
            {"job_id": "DB-9999", "description": "x"},  # no such posting
            {"job_id": "DB-1004"},  # empty
            {"job_id": "DB-1005", "description": "raw"},  # changes nothing
            {"job_id": "DB-1005", "description": 12},  # wrong type
        ],
    )
    result = validator.promote("postings", run)
    rows = dict(
        (sid, (outcome, errors))
        for sid, outcome, errors in fetch_all(
            db.owner_url,
            "SELECT staging_id, outcome, validation_errors FROM postings_staging"
            " WHERE staging_id = ANY(%s)",
            (ids,),
        )
    )
    assert rows[ids[0]] == ("failed", [{"field": "title", "error": "not patchable"}])
    assert rows[ids[1]] == ("failed", [{"field": "job_id", "error": "not found"}])
    assert rows[ids[2]] == ("failed", [{"field": "raw_data", "error": "missing"}])
    assert rows[ids[3]] == ("duplicate", None)
    assert rows[ids[4]] == ("failed", [{"field": "description", "error": "wrong type"}])
    assert (result.failed_count, result.duplicate_count, result.summary["updated_count"]) == (
        4,
        1,
        0,
    )
    assert fetch_one(db.owner_url, POSTING, ("DB-1004",))[:3] == (
        "Engineer",
        "raw <b>text</b>",
        "Berlin",
    )


def test_patches_of_one_row_apply_in_staging_order_and_unpromote_restores(
    db, owner, script, validator, actor_id
):
    fetched(owner, script, validator, actor_id, JOBS)
    before = fetch_all(db.owner_url, "SELECT * FROM postings ORDER BY posting_id")
    parser = allow_patch(db, "db_job_parser", "postings", ["description", "location"])
    run = owner.start_run()
    ids = stage_patches(
        db,
        run,
        parser,
        [
            {"job_id": "DB-1004", "description": "first"},
            {"job_id": "DB-1004", "location": "Hamburg"},
            {"job_id": "DB-1004", "description": "second"},
            {"job_id": "DB-1004", "description": "second"},
        ],
    )
    result = validator.promote("postings", run)
    assert (result.summary["updated_count"], result.duplicate_count) == (3, 1)
    assert fetch_one(db.owner_url, POSTING, ("DB-1004",)) == (
        "Engineer",
        "second",
        "Hamburg",
        ids[2],
    )
    assert validator.promote("postings", run).summary["updated_count"] == 0  # idempotent
    undone = validator.unpromote("postings", run)
    assert undone["restored_count"] == 1
    assert fetch_all(db.owner_url, "SELECT * FROM postings ORDER BY posting_id") == before


def test_a_patch_applies_after_an_insert_of_the_same_promotion(
    db, owner, script, validator, actor_id
):
    parser = allow_patch(db, "db_job_parser", "postings", ["description"])
    run = owner.start_run()
    # The patch is staged first; it still applies after the insert.
    stage_patches(db, run, parser, [{"job_id": "DB-2000", "description": "parsed"}])
    script.stage(
        "postings", run, actor_id, [{"job_id": "DB-2000", "title": "New", "description": "raw"}]
    )
    result = validator.promote("postings", run)
    assert (result.promoted_count, result.summary["updated_count"]) == (1, 1)
    assert fetch_one(db.owner_url, POSTING, ("DB-2000",))[1] == "parsed"


def test_a_later_fetch_never_overwrites_the_parsed_description(
    db, owner, script, validator, actor_id
):
    fetched(owner, script, validator, actor_id, JOBS)
    parser = allow_patch(db, "db_job_parser", "postings", ["description"])
    run = owner.start_run()
    stage_patches(db, run, parser, [{"job_id": "DB-1004", "description": "parsed"}])
    validator.promote("postings", run)
    again = fetched(owner, script, validator, actor_id, JOBS)
    assert validator.status(again)[0].duplicate == 2 or any(
        r.duplicate == 2 for r in validator.status(again)
    )
    assert fetch_one(db.owner_url, POSTING, ("DB-1004",))[1] == "parsed"


def test_concurrent_patch_runs_end_as_if_one_after_another(db, owner, script, validator, actor_id):
    fetched(owner, script, validator, actor_id, JOBS)
    parser = allow_patch(db, "db_job_parser", "postings", ["description", "location"])
    runs = []
    for n in range(6):
        run = owner.start_run()
        field = "description" if n % 2 else "location"
        stage_patches(
            db,
            run,
            parser,
            [
                {"job_id": "DB-1004", field: f"{field}-{n}"},
                {"job_id": "DB-1005", field: f"{field}-{n}"},
            ],
        )
        runs.append(run)
    errors: list[BaseException] = []

    def promote(run: int) -> None:
        try:
            with db.client("validator_login") as client:
                client.promote("postings", run)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=promote, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    pending = fetch_one(
        db.owner_url, "SELECT count(*) FROM postings_staging WHERE outcome IS NULL"
    )[0]
    assert pending == 0
    # Each row ends with the values of its last applied patch per field; every
    # applied patch left a pre-image of the row just before it.
    for key in ("DB-1004", "DB-1005"):
        _, description, location, last = fetch_one(db.owner_url, POSTING, (key,))
        assert description.startswith("description-") and location.startswith("location-")
        order = [
            row[0]
            for row in fetch_all(
                db.owner_url,
                "SELECT s.staging_id FROM postings_staging AS s"
                " JOIN postings AS p ON p.posting_id = s.promoted_to_id"
                " WHERE p.external_job_id = %s AND s.operation = 'patch' AND s.outcome = 'updated'"
                " ORDER BY s.promoted_at, s.staging_id",
                (key,),
            )
        ]
        assert last in order
