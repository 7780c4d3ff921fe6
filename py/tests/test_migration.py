"""Adopting a live database the way the design migrates (issue 14).

A database built with the design's own production DDL for ``postings``
(its two ``REFERENCES postings_staging`` dropped: staging does not exist
before pgstaging installs it), the workflow engine's ``workflow_runs`` and
``actors``, legacy rows, and a V1 script that writes ``postings`` directly
with its own login. Then the design's phases: install (the V1 script keeps
working and is logged), move the script to staging (fetcher and validator),
enforce (a direct write is refused). Production data is compared before and
after each step: only what the scripts wrote on purpose changes.
"""

from __future__ import annotations

import json
import re

import psycopg
import pytest
from pgstaging import install
from psycopg import errors, sql
from support import fetch_all, fetch_one, run_cli, run_module

V1_LOGIN = "v1_job_fetcher"

# The design's production DDL, verbatim but for the two REFERENCES
# postings_staging(staging_id), which cannot exist before staging does.
DESIGN_POSTINGS = """
CREATE TABLE postings (
    posting_id BIGSERIAL PRIMARY KEY,

    -- Business fields
    external_job_id TEXT UNIQUE NOT NULL,
    source_website TEXT NOT NULL,
    job_title TEXT NOT NULL,
    job_description TEXT,
    company_name TEXT,
    location TEXT,

    -- Audit trail
    created_by_staging_id BIGINT,
    created_by_interaction_id BIGINT,
    created_at TIMESTAMPTZ DEFAULT NOW(),

    updated_by_staging_id BIGINT,
    updated_by_interaction_id BIGINT,
    updated_at TIMESTAMPTZ,

    -- Lifecycle
    enabled BOOLEAN DEFAULT TRUE,
    invalidated BOOLEAN DEFAULT FALSE
);
"""

# The workflow engine's tables, with columns of its own pgstaging never touches.
ENGINE = """
CREATE TABLE workflow_runs (
    workflow_run_id serial PRIMARY KEY,
    workflow_name text NOT NULL DEFAULT 'fetch_jobs',
    started_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE actors (
    actor_id serial PRIMARY KEY,
    actor_name text NOT NULL UNIQUE,
    actor_type text NOT NULL DEFAULT 'script'
);
"""

LEGACY = """
INSERT INTO postings
    (external_job_id, source_website, job_title, job_description, company_name, location)
VALUES ('DB-1001', 'deutsche_bank', 'Data Engineer', 'Pipelines', 'Deutsche Bank', 'Frankfurt'),
       ('DB-1002', 'deutsche_bank', 'Risk Analyst', NULL, 'Deutsche Bank', 'London');
CREATE INDEX postings_location_idx ON postings (location);
ALTER TABLE postings ADD CONSTRAINT postings_title_not_blank CHECK (btrim(job_title) <> '');
CREATE FUNCTION postings_touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER postings_touch BEFORE INSERT ON postings
    FOR EACH ROW EXECUTE FUNCTION postings_touch();
COMMENT ON COLUMN postings.location IS 'city';
INSERT INTO workflow_runs (workflow_name) VALUES ('nightly');
INSERT INTO actors (actor_name, actor_type) VALUES ('turing_job_fetcher', 'script');
"""

BUSINESS = (
    "posting_id, external_job_id, source_website, job_title, job_description, company_name,"
    " location, created_at, created_by_staging_id, updated_by_staging_id, enabled, invalidated"
)


def v1_save_posting(url: str, job: dict) -> None:
    """The design's V1 fetcher: INSERT straight into postings, one commit per row."""
    with psycopg.connect(url, application_name="turing_job_fetcher") as conn:
        conn.execute(
            "INSERT INTO postings (external_job_id, source_website, job_title, job_description,"
            " company_name, location) VALUES (%s, %s, %s, %s, %s, %s)",
            (
                job["job_id"],
                "deutsche_bank",
                job["title"],
                job.get("description"),
                "Deutsche Bank",
                job.get("location"),
            ),
        )


def production(url: str) -> list[tuple]:
    return fetch_all(url, f"SELECT {BUSINESS} FROM postings ORDER BY posting_id")


def catalog(url: str, table: str) -> dict[str, list[tuple]]:
    """What the user built on a table: columns, constraints, indexes, triggers, grants."""
    return {
        "columns": fetch_all(
            url,
            "SELECT attname, format_type(atttypid, atttypmod), attnotnull,"
            " pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum)"
            " FROM pg_attribute AS a LEFT JOIN pg_attrdef AS d"
            "  ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
            " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped"
            " ORDER BY attnum",
            (table,),
        ),
        "constraints": fetch_all(
            url,
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass ORDER BY 1",
            (table,),
        ),
        "indexes": fetch_all(
            url,
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s ORDER BY 1",
            (table,),
        ),
        "triggers": fetch_all(
            url,
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger"
            " WHERE tgrelid = %s::regclass AND NOT tgisinternal ORDER BY 1",
            (table,),
        ),
        "grants": fetch_all(
            url,
            "SELECT grantee, privilege_type FROM information_schema.role_table_grants"
            " WHERE table_name = %s AND grantee NOT LIKE 'staging\\_%%' ORDER BY 1, 2",
            (table,),
        ),
    }


@pytest.fixture
def live(empty_db):
    """The live database before pgstaging: design DDL, engine tables, data, a V1 login."""
    with psycopg.connect(empty_db.admin_url, autocommit=True) as conn:
        if (
            conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (V1_LOGIN,)).fetchone()
            is None
        ):
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(V1_LOGIN)))
    with empty_db.connect() as conn:
        conn.execute(ENGINE)
        conn.execute(DESIGN_POSTINGS)
        conn.execute(LEGACY)
        conn.execute(
            sql.SQL("GRANT SELECT, INSERT ON postings TO {}").format(sql.Identifier(V1_LOGIN))
        )
        conn.execute(
            sql.SQL("GRANT USAGE ON SEQUENCE postings_posting_id_seq TO {}").format(
                sql.Identifier(V1_LOGIN)
            )
        )
    return empty_db


def test_the_design_migration_phase_by_phase(live):
    url = live.owner_url
    v1_url = live.url(V1_LOGIN)
    v1_save_posting(v1_url, {"job_id": "DB-1003", "title": "Quant"})  # V1 before pgstaging
    before = production(url)
    user_catalog = catalog(url, "postings")
    engine = {t: catalog(url, t) for t in ("workflow_runs", "actors")}
    engine_rows = (
        fetch_all(url, "SELECT * FROM workflow_runs"),
        fetch_all(url, "SELECT * FROM actors"),
    )

    # Phase 1: install. The table is adopted, nothing of the user's is lost.
    installed = run_cli("install", url=url)
    assert installed.returncode == 0, installed.stderr
    printed = installed.stdout.splitlines()  # the installer says what it changes
    assert any("adopting existing table postings (3 rows kept" in m for m in printed)
    assert any("starts in observe mode" in m for m in printed)
    assert any("adds foreign keys created_by_staging_id" in m for m in printed)
    assert production(url) == before
    after = catalog(url, "postings")
    assert set(user_catalog["constraints"]) <= set(after["constraints"])
    assert set(user_catalog["indexes"]) <= set(after["indexes"])
    assert set(user_catalog["triggers"]) <= set(after["triggers"])
    assert user_catalog["grants"] == after["grants"]
    assert user_catalog["columns"] == after["columns"]  # the design already has every column
    assert {t: catalog(url, t) for t in ("workflow_runs", "actors")} == engine
    assert (
        fetch_all(url, "SELECT * FROM workflow_runs"),
        fetch_all(url, "SELECT * FROM actors"),
    ) == engine_rows
    assert fetch_all(url, "SELECT mode, adopted FROM pgstaging.guard_modes") == [("observe", True)]

    # ... and the V1 script still works, logged and alerted.
    v1_save_posting(v1_url, {"job_id": "DB-1004", "title": "Ops", "location": "Berlin"})
    new = production(url)
    assert new[:-1] == before and new[-1][1] == "DB-1004"
    assert fetch_all(
        url,
        "SELECT table_name, operation, session_user_name, application_name, row_count,"
        " transaction_id IS NOT NULL FROM pgstaging.direct_writes",
    ) == [("postings", "INSERT", V1_LOGIN, "turing_job_fetcher", 1, True)]
    (alert,) = fetch_all(
        url, "SELECT payload FROM pgstaging.alerts WHERE payload->>'action' = 'direct_write'"
    )
    assert alert[0]["session_user"] == V1_LOGIN and alert[0]["row_count"] == 1
    # A direct write may not forge a staged origin.
    with psycopg.connect(v1_url) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(
            "INSERT INTO postings (external_job_id, source_website, job_title,"
            " created_by_interaction_id) VALUES ('DB-9', 'x', 'forged', 1)"
        )
    status = run_cli("status", url=url)
    assert status.returncode == 0, status.stderr
    assert (
        "observe" in status.stdout
        and V1_LOGIN in status.stdout
        and "turing_job_fetcher" in status.stdout
    )
    (unstaged,) = fetch_one(url, "SELECT pgstaging.unstaged_row_count('postings')")
    assert unstaged == 4

    # Phase 2 and 3: the V1 script is gone; its login becomes a script actor
    # and stages, the validator promotes.
    with live.connect() as conn:
        conn.execute(sql.SQL("REVOKE ALL ON postings FROM {}").format(sql.Identifier(V1_LOGIN)))
        (script_role,) = conn.execute("SELECT pgstaging.group_role('script')").fetchone()
        conn.execute(
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(script_role), sql.Identifier(V1_LOGIN))
        )
        (run,) = conn.execute(
            "INSERT INTO workflow_runs (workflow_name) VALUES ('phase2') RETURNING workflow_run_id"
        ).fetchone()
        # Bound to its actor, with stage on postings (the engine's actors row).
        (actor,) = conn.execute(
            "SELECT pgstaging.add_actor('turing_job_fetcher', %s)", (V1_LOGIN,)
        ).fetchone()
        conn.execute("SELECT pgstaging.allow_actor('turing_job_fetcher', 'postings', 'stage')")
        # Group roles are this database's own: its validator login gets this install's.
        conn.execute(
            "SELECT pgstaging.grant_membership("
            "pgstaging.group_role('validator'), 'validator_login')"
        )
    before = production(url)
    jobs = [
        {"job_id": "DB-2001", "title": "Platform Engineer", "location": "Frankfurt"},
        {"job_id": "DB-1001", "title": "Data Engineer (again)"},  # a legacy key: a duplicate
        {"title": "no id"},
    ]
    fetched = run_module(
        "pgstaging.actors.fetch_postings",
        url=v1_url,
        input=json.dumps({"workflow_run_id": run, "actor_id": actor, "jobs": jobs}),
    )
    assert fetched.returncode == 0, fetched.stderr
    assert json.loads(fetched.stdout)["count"] == 3
    validated = run_module(
        "pgstaging.actors.validate_postings",
        url=live.url("validator_login"),
        input=json.dumps({"workflow_run_id": run}),
    )
    assert validated.returncode == 0, validated.stderr
    summary = json.loads(validated.stdout)
    assert (summary["promoted_count"], summary["duplicate_count"], summary["failed_count"]) == (
        1,
        1,
        1,
    )
    legacy_id = before[0][0]
    assert summary["details"]["duplicates"][0]["posting_id"] == legacy_id
    after = production(url)
    assert after[: len(before)] == before  # legacy rows untouched, the duplicate linked
    (promoted,) = after[len(before) :]
    assert promoted[1:4] == ("DB-2001", "deutsche_bank", "Platform Engineer")
    assert promoted[8] is not None  # created_by_staging_id: a staged origin
    assert fetch_one(url, "SELECT count(*) FROM pgstaging.direct_writes") == (
        1,
    )  # promotion is not direct

    # Phase 4 done: enforce. Refused while direct writes are recent, unless forced.
    refused = run_cli("guard", "postings", "enforce", url=url)
    assert refused.returncode == 6 and "55000" in refused.stderr and "--force" in refused.stderr
    forced = run_cli("guard", "postings", "enforce", "--force", url=url)
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout) == {
        "table": "postings",
        "mode": "enforce",
        "previous_mode": "observe",
    }
    before = production(url)
    with live.connect() as conn:
        conn.execute(sql.SQL("GRANT INSERT ON postings TO {}").format(sql.Identifier(V1_LOGIN)))
    with pytest.raises(errors.InsufficientPrivilege, match="is refused"):
        v1_save_posting(v1_url, {"job_id": "DB-1005", "title": "Forgotten V1 script"})
    assert production(url) == before
    assert fetch_one(url, "SELECT count(*) FROM pgstaging.direct_writes") == (1,)
    # A re-install keeps the mode and changes no data.
    assert install(url, force=True).messages == ()  # nothing left to adopt: nothing said
    assert fetch_all(url, "SELECT mode FROM pgstaging.guard_modes") == [("enforce",)]
    assert production(url) == before


def test_unpromote_in_observe_mode_keeps_direct_changes_and_legacy_rows(live):
    url = live.owner_url
    install(url)
    with live.connect() as conn:
        (run,) = conn.execute(
            "INSERT INTO workflow_runs DEFAULT VALUES RETURNING workflow_run_id"
        ).fetchone()
        conn.execute(
            "INSERT INTO postings_staging (workflow_run_id, raw_data) VALUES"
            """ (%s, '{"job_id": "S-1", "title": "one"}'),"""
            """ (%s, '{"job_id": "S-2", "title": "two"}')""",
            (run, run),
        )
        conn.execute("SELECT promote_postings_staging(%s)", (run,))
    # A direct UPDATE of one promoted row: unpromote must refuse to delete it.
    with live.connect() as conn:
        conn.execute(sql.SQL("GRANT UPDATE ON postings TO {}").format(sql.Identifier(V1_LOGIN)))
    with psycopg.connect(live.url(V1_LOGIN)) as conn:
        conn.execute("UPDATE postings SET location = 'edited' WHERE external_job_id = 'S-1'")
    before = production(url)
    with (
        live.connect() as conn,
        pytest.raises(errors.ObjectNotInPrerequisiteState, match="direct writes"),
    ):
        conn.execute("SELECT unpromote_postings_staging(%s)", (run,))
    assert production(url) == before


@pytest.mark.parametrize(
    ("damage", "fragments"),
    [
        (
            "ALTER TABLE postings DROP CONSTRAINT postings_external_job_id_key;"
            " INSERT INTO postings (external_job_id, source_website, job_title)"
            " VALUES ('DB-1001', 'x', 'again'), ('DB-1001', 'x', 'thrice'),"
            " ('DB-1002', 'x', 'again')",
            [
                "2 natural key values (external_job_id) occur more than once",
                "DB-1001 (3 rows)",
                "5 rows in all: DB-1001 (3 rows); DB-1002 (2 rows)",
            ],
        ),
        (
            "ALTER TABLE postings ALTER COLUMN job_title DROP NOT NULL;"
            " INSERT INTO postings (external_job_id, source_website, job_title)"
            " VALUES ('DB-7', 'x', NULL)",
            ["job_title is NULL in 1 rows (posting_id 3)"],
        ),
    ],
)
def test_adoption_refuses_data_that_breaks_the_spec_in_words(live, damage, fragments):
    with live.connect() as conn:
        conn.execute(damage)
    before = production(live.owner_url)
    with pytest.raises(Exception) as raised:
        install(live.owner_url)
    message = str(raised.value)
    detail = raised.value.__cause__.diag.message_detail  # psql shows it too
    assert any(fragment in detail for fragment in fragments), detail
    assert "22023" in message and "cannot adopt postings" in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert production(live.owner_url) == before
    assert fetch_one(live.owner_url, "SELECT to_regclass('pgstaging.installs')") == (None,)


@pytest.mark.parametrize(
    ("ddl", "missing"),
    [
        ("ALTER TABLE actors RENAME COLUMN actor_name TO name", "lacks column(s) actor_name"),
        (
            "ALTER TABLE workflow_runs RENAME COLUMN workflow_run_id TO run_id",
            "has no column workflow_run_id",
        ),
    ],
)
def test_engine_tables_missing_key_columns_are_named(live, ddl, missing):
    with live.connect() as conn:
        conn.execute(ddl)
    with pytest.raises(Exception, match=re.escape(missing)):
        install(live.owner_url)


def test_guard_cli_switches_owner_only_and_status_shows_modes(db):
    refused = run_cli("guard", "postings", "observe", url=db.url("validator_login"))
    assert refused.returncode == 5, refused.stderr
    unknown = run_cli("guard", "nosuch", "observe", url=db.owner_url)
    assert unknown.returncode == 4 and "postings" in unknown.stderr, unknown.stderr
    bad = run_cli("guard", "postings", "loose", url=db.owner_url)
    assert bad.returncode == 2
    done = run_cli("guard", "postings", "observe", url=db.owner_url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "table": "postings",
        "mode": "observe",
        "previous_mode": "enforce",
    }
    status = run_cli("status", "--json", url=db.owner_url)
    modes = {
        line["table_name"]: line["guard_mode"]
        for line in map(json.loads, status.stdout.splitlines())
    }
    assert modes == {
        "postings": "observe",
        "profile_skills": "enforce",
        "job_skills": "enforce",
        "skill_aliases": "enforce",
    }
    # No direct write was seen: back to enforce needs no --force.
    done = run_cli("guard", "postings", "enforce", url=db.owner_url)
    assert done.returncode == 0, done.stderr
    assert (
        fetch_all(db.owner_url, "SELECT tgname FROM pg_trigger WHERE tgname LIKE '%observe%'") == []
    )
