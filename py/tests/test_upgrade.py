"""Upgrades: an install applied over an existing one gives the catalog of a fresh install.

Two databases get the same use (the companies example spec, staged and
promoted rows of every staged table, a retry, an unpromote, the user's own
grants, index and views, one of them on a judged view). The fresh one is
installed once. The upgraded one is then installed again with ``force``, and
once more after a simulated older version (the install ledger says 0.0.9 and
the catalog lacks or differs in what 0.1.0 adds: a trigger, an index, a
health view, a comment, a grant too wide and one too narrow).

``pg_dump --schema-only`` of both, normalized, must be identical; the
upgraded database's data (``pg_dump --data-only``, less the install
ledger), its ACLs and its verdicts must be what they were before.
(A test against the v0.1.0 tag itself can come once the tag exists.)
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import psycopg
import pytest
from conftest import TEMPLATE
from pgstaging import StagingClient, __version__, install, sqlfiles
from pgstaging.devcluster import OWNER, _bindir
from psycopg import sql
from psycopg.conninfo import make_conninfo
from support import fetch_all, fetch_one

EXAMPLE_SPEC = Path(__file__).resolve().parents[2] / "examples" / "specs" / "companies.sql"
# Both databases use the template's group roles (the test logins are members
# of them), so their dumps can be compared line by line.
PREFIX = f"staging_{TEMPLATE}"
ROLES = {kind: f"{PREFIX}_{kind}" for kind in ("script", "validator", "reader", "steward")}
_names = count()


class Blank:
    """A new database of the test cluster, owned by the owner, without pgstaging."""

    def __init__(self, server_url: str, name: str):
        self.server_url, self.name = server_url, name

    def url(self, user: str = OWNER) -> str:
        return make_conninfo(self.server_url, user=user, dbname=self.name)

    @property
    def admin_url(self) -> str:
        return make_conninfo(self.server_url, dbname=self.name)


@pytest.fixture
def blank(admin_server_url: str, template_db: str) -> Iterator[callable]:
    """Make blank databases (template_db: the cluster's roles and test logins exist)."""
    made: list[str] = []

    def make() -> Blank:
        name = f"pgstaging_upgrade_{os.getpid()}_{next(_names)}"
        with psycopg.connect(admin_server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(OWNER)
                )
            )
        made.append(name)
        return Blank(admin_server_url, name)

    yield make
    with psycopg.connect(admin_server_url, autocommit=True) as conn:
        for name in made:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def install_with_example(target: Blank, **kwargs):
    return install(target.url(), specs=[EXAMPLE_SPEC], role_prefix=PREFIX, **kwargs)


# -- the same use in both databases ---------------------------------------------

USER_OBJECTS = [
    # The user's own grants, to a login pgstaging knows nothing of.
    "GRANT SELECT (external_job_id, job_title) ON postings TO nobody_login",
    "GRANT USAGE ON SCHEMA pgstaging TO nobody_login",
    "GRANT SELECT ON pgstaging.promotion_log TO nobody_login",
    # The user's own index and views, one of them on a documented pgstaging view.
    "CREATE INDEX my_postings_title_idx ON postings (job_title)",
    "CREATE VIEW my_posting_titles AS SELECT external_job_id, job_title FROM postings",
    "CREATE VIEW my_failing_rows AS SELECT staging_id, errors "
    "FROM pgstaging.postings_staging_judged WHERE errors IS NOT NULL",
    f"GRANT SELECT ON my_posting_titles TO {ROLES['reader']}",
]


def use(target: Blank) -> None:
    """Stage and promote into every staged table, retry, unpromote; add the user's objects."""
    with psycopg.connect(target.admin_url, autocommit=True) as conn:
        conn.execute(sqlfiles.query("dev/create_test_logins.sql"))
    with StagingClient.connect(target.url()) as owner:
        runs = [owner.start_run() for _ in range(3)]
        actor = owner.register_actor("upgrade_fetcher")
    with StagingClient.connect(target.url("script_login")) as script:
        script.stage(
            "postings",
            runs[0],
            actor,
            [
                {"job_id": "U-1", "title": "Engineer"},
                {"job_id": " U-1 ", "title": "Engineer again"},
                {"job_id": "U-2"},
                {"job_id": "U-3", "title": "Analyst"},
            ],
        )
        script.stage("postings", runs[1], actor, [{"job_id": "U-4", "title": "Later"}])
        script.stage(
            "profile_skills",
            runs[0],
            actor,
            [
                {"profile_id": 1, "skill": "SQL", "proficiency": "expert"},
                {"profile_id": 1, "skill": "sql"},
                {"profile_id": 0, "skill": "Go"},
            ],
        )
        script.stage(
            "skill_aliases",
            runs[0],
            actor,
            [
                {"alias": "postgres", "canonical": "PostgreSQL"},
                {"alias": "Same", "canonical": "same"},
            ],
        )
        script.stage(
            "companies",
            runs[0],
            actor,
            [
                {"registry": "de12345", "name": "Acme  GmbH", "employees": "12"},
                {"registry": "XX1", "name": "Bad"},
            ],
        )
        script.stage(
            "companies",
            runs[1],
            actor,
            [
                {"registry": "DE12345", "name": "Acme GmbH", "employees": 13},
            ],
        )
    with StagingClient.connect(target.url("validator_login")) as validator:
        for table in ("postings", "profile_skills", "skill_aliases", "companies"):
            validator.promote(table, runs[0])
        with StagingClient.connect(target.url("script_login")) as script:
            script.stage(
                "job_skills",
                runs[0],
                actor,
                [
                    {"job_id": "U-1", "skill": "Python"},
                    {"job_id": "U-404", "skill": "Python"},
                ],
            )
        validator.promote("job_skills", runs[0])
        validator.promote("companies", runs[1])  # an update, with its pre-image
        validator.promote("postings", runs[1])
        validator.retry("postings", runs[0])  # superseded verdicts
        validator.unpromote("postings", runs[1], reason="upgrade test")  # rolled back
    with psycopg.connect(target.url(), autocommit=True) as conn:
        for statement in USER_OBJECTS:
            conn.execute(statement)


# -- what is compared -------------------------------------------------------------


def pg_dump(target: Blank, *args: str) -> list[str]:
    """pg_dump's output, normalized: no comments, blank lines or per-run restrict keys."""
    done = subprocess.run(
        [str(_bindir() / "pg_dump"), *args, "--dbname", target.admin_url],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    lines: list[str] = []
    grants: list[str] = []  # a run of GRANT/REVOKE lines: their order means nothing
    for line in done.stdout.splitlines():
        if not line.strip() or line.startswith("--") or re.match(r"\\(un)?restrict ", line):
            continue
        if line.startswith(("GRANT ", "REVOKE ")):
            grants.append(line.rstrip())
            continue
        lines.extend(sorted(grants))
        grants.clear()
        lines.append(line.rstrip())
    lines.extend(sorted(grants))
    return lines


def schema(target: Blank) -> list[str]:
    return pg_dump(target, "--schema-only")


def data(target: Blank) -> list[str]:
    # The install ledger is the one table an install is meant to change.
    dumped = pg_dump(target, "--data-only", "--exclude-table-data=pgstaging.installs")
    return [line for line in dumped if "pgstaging.installs_install_id_seq" not in line]


ACLS = """
    SELECT 'schema', n.nspname, NULL, n.nspacl::text[] FROM pg_namespace AS n
    WHERE n.nspname IN ('public', 'pgstaging')
    UNION ALL
    SELECT 'relation', c.oid::regclass::text, NULL, c.relacl::text[] FROM pg_class AS c
    WHERE c.relnamespace IN ('public'::regnamespace, 'pgstaging'::regnamespace)
    UNION ALL
    SELECT 'column', a.attrelid::regclass::text, a.attname, a.attacl::text[] FROM pg_attribute AS a
    JOIN pg_class AS c ON c.oid = a.attrelid
    WHERE c.relnamespace IN ('public'::regnamespace, 'pgstaging'::regnamespace)
      AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
    UNION ALL
    SELECT 'function', p.oid::regprocedure::text, NULL, p.proacl::text[] FROM pg_proc AS p
    WHERE p.pronamespace IN ('public'::regnamespace, 'pgstaging'::regnamespace)
    ORDER BY 1, 2, 3
"""


def acls(url: str) -> list[tuple]:
    """Every ACL of the two schemas, items sorted: their order in the array means nothing."""
    return [(*row[:3], sorted(row[3] or [])) for row in fetch_all(url, ACLS)]


VERDICTS = """
    SELECT t, staging_id, outcome, validation_errors, promoted_to_id, rule_version
    FROM (
        SELECT 'postings' AS t, staging_id, outcome, validation_errors, promoted_to_id,
               rule_version FROM postings_staging
        UNION ALL SELECT 'profile_skills', staging_id, outcome, validation_errors, promoted_to_id,
               rule_version FROM profile_skills_staging
        UNION ALL SELECT 'job_skills', staging_id, outcome, validation_errors, promoted_to_id,
               rule_version FROM job_skills_staging
        UNION ALL SELECT 'skill_aliases', staging_id, outcome, validation_errors, promoted_to_id,
               rule_version FROM skill_aliases_staging
        UNION ALL SELECT 'companies', staging_id, outcome, validation_errors, promoted_to_id,
               rule_version FROM companies_staging
    ) AS v ORDER BY 1, 2
"""


def simulate_older_version(target: Blank) -> None:
    """What a 0.0.9 install would have left: fewer objects, older grants, an older ledger."""
    with psycopg.connect(target.url(), autocommit=True) as conn:
        for statement in [
            "UPDATE pgstaging.installs SET version = '0.0.9', checksum = 'checksum-of-0.0.9'",
            "DROP TRIGGER postings_staging_restage_owner_only ON postings_staging",
            "DROP INDEX postings_staging_pending_idx",
            "DROP VIEW pgstaging.skill_aliases_health",
            "COMMENT ON FUNCTION promote_postings_staging(integer, boolean, bigint, boolean)"
            " IS 'old words'",
            f"GRANT SELECT ON postings TO {ROLES['script']}",  # too wide
            # too narrow
            f"REVOKE SELECT (validation_errors) ON postings_staging FROM {ROLES['reader']}",
        ]:
            conn.execute(statement)


def assert_same_lines(got: list[str], expected: list[str], what: str) -> None:
    if got != expected:
        diff = "\n".join(
            list(difflib.unified_diff(expected, got, "fresh", "upgraded", lineterm=""))[:80]
        )
        pytest.fail(f"{what} differ:\n{diff}")


# -- the tests ----------------------------------------------------------------------


def test_fresh_and_upgraded_installs_give_the_same_catalog_and_keep_everything(blank):
    fresh, upgraded = blank(), blank()
    for target in (fresh, upgraded):
        assert install_with_example(target).changed
        use(target)
    fresh_schema = schema(fresh)
    assert len(fresh_schema) > 500  # the dump sees what was installed: not vacuous
    assert any("CREATE TRIGGER postings_staging_restage_owner_only" in x for x in fresh_schema)
    assert "GRANT SELECT(job_title) ON TABLE public.postings TO nobody_login;" in fresh_schema
    assert_same_lines(schema(upgraded), fresh_schema, "schemas before any re-install")

    data_before = data(upgraded)
    acls_before = acls(upgraded.admin_url)
    verdicts_before = fetch_all(upgraded.admin_url, VERDICTS)
    assert {v[2] for v in verdicts_before} == {
        "promoted",
        "duplicate",
        "updated",
        "failed",
        "rolled_back",
    }

    # 1. The same version again, forced.
    result = install_with_example(upgraded, force=True)
    assert result.changed and result.previous_version == __version__
    assert_same_lines(schema(upgraded), fresh_schema, "schemas after install(force=True)")
    assert_same_lines(data(upgraded), data_before, "data after install(force=True)")
    assert acls(upgraded.admin_url) == acls_before
    assert fetch_all(upgraded.admin_url, VERDICTS) == verdicts_before

    # 2. Over a simulated older version.
    simulate_older_version(upgraded)
    drifted = schema(upgraded)
    assert drifted != fresh_schema  # the simulation did change the catalog
    assert fetch_one(
        upgraded.admin_url,
        "SELECT has_table_privilege(%s, 'postings', 'SELECT')",
        (ROLES["script"],),
    ) == (True,)
    result = install_with_example(upgraded)
    assert result.changed and result.previous_version == "0.0.9"
    assert_same_lines(schema(upgraded), fresh_schema, "schemas after an upgrade from 0.0.9")
    assert_same_lines(data(upgraded), data_before, "data after an upgrade from 0.0.9")
    assert acls(upgraded.admin_url) == acls_before
    assert fetch_all(upgraded.admin_url, VERDICTS) == verdicts_before
    assert install_with_example(upgraded).changed is False  # and now it is current

    # The user's grants hold, pgstaging's are exact again, and the user's
    # views (one on a judged view) still answer.
    assert fetch_one(
        upgraded.admin_url,
        """SELECT has_column_privilege('nobody_login', 'postings', 'job_title', 'SELECT'),
                  has_column_privilege('nobody_login', 'postings', 'location', 'SELECT'),
                  has_table_privilege('nobody_login', 'pgstaging.promotion_log', 'SELECT'),
                  has_table_privilege(%s, 'postings', 'SELECT'),
                  has_column_privilege(%s, 'postings_staging',
                                       'validation_errors', 'SELECT'),
                  (SELECT count(*) FROM my_posting_titles),
                  (SELECT count(*) FROM my_failing_rows)""",
        (ROLES["script"], ROLES["reader"]),
    ) == (True, False, True, False, True, 2, 1)  # U-1, U-3 (U-4 rolled back); U-2

    # Both still work: the same new run gives the same answer.
    for target in (fresh, upgraded):
        with StagingClient.connect(target.url()) as owner:
            run_id = owner.start_run()
        with StagingClient.connect(target.url("script_login")) as script:
            script.stage(
                "postings",
                run_id,
                "upgrade_fetcher",
                [{"job_id": "U-1", "title": "x"}, {"job_id": "N-1", "title": "new"}],
            )
        with StagingClient.connect(target.url("validator_login")) as validator:
            result = validator.promote("postings", run_id)
        assert (result.promoted_count, result.duplicate_count, result.failed_count) == (1, 1, 0)
    assert_same_lines(schema(upgraded), schema(fresh), "schemas after more use")


def test_a_changed_spec_still_replaces_its_judged_view(blank):
    # The judged view is replaced in place (so users' views on it survive);
    # a spec that drops a field changes its columns and needs the fallback.
    target = blank()
    install(target.url(), role_prefix=PREFIX)
    with psycopg.connect(target.url(), autocommit=True) as conn:
        (spec,) = conn.execute(
            "SELECT spec FROM pgstaging.staged_tables WHERE table_name = 'profile_skills'"
        ).fetchone()
        spec["fields"] = [f for f in spec["fields"] if f["column"] != "proficiency"]
        (version,) = conn.execute(
            "SELECT pgstaging.register_staged_table(%s)", (psycopg.types.json.Jsonb(spec),)
        ).fetchone()
        columns = [
            r[0]
            for r in conn.execute(
                """SELECT attname FROM pg_attribute
                   WHERE attrelid = 'pgstaging.profile_skills_staging_judged'::regclass
                     AND attnum > 0 ORDER BY attnum"""
            ).fetchall()
        ]
    assert version == 2
    assert "proficiency" not in columns and "skill" in columns
    assert fetch_one(
        target.admin_url,
        "SELECT has_table_privilege(%s, 'pgstaging.profile_skills_staging_judged', 'SELECT')",
        (ROLES["reader"],),
    ) == (False,)  # column grants only
    assert fetch_one(
        target.admin_url,
        "SELECT has_column_privilege(%s, 'pgstaging.profile_skills_staging_judged', "
        "'skill', 'SELECT')",
        (ROLES["reader"],),
    ) == (True,)


def test_an_upgrade_of_0_1_0_keeps_its_role_names_and_binds_the_logins_that_staged(blank):
    """0.1.0 had cluster-wide staging_script/validator/reader, no role table and no actor rights."""
    target = blank()
    install(target.url(), role_prefix="staging")
    with psycopg.connect(target.admin_url, autocommit=True) as conn:
        for kind in ("script", "validator"):
            conn.execute(
                sql.SQL("GRANT {} TO {}").format(
                    sql.Identifier(f"staging_{kind}"), sql.Identifier(f"{kind}_login")
                )
            )
        conn.execute("SELECT pgstaging.add_actor('upgrade_fetcher', 'script_login')")
        conn.execute("SELECT pgstaging.allow_actor('upgrade_fetcher', 'postings', 'stage')")
    with StagingClient.connect(target.url()) as owner:
        run_id = owner.start_run()
    with StagingClient.connect(target.url("script_login")) as script:
        script.stage("postings", run_id, "upgrade_fetcher", [{"job_id": "OLD-1", "title": "x"}])
    # Back to what 0.1.0 left: no role table, no bindings, no migration record.
    with psycopg.connect(target.url(), autocommit=True) as conn:
        conn.execute("DROP TABLE pgstaging.group_roles")
        conn.execute("DELETE FROM pgstaging.actor_rights")
        conn.execute("DELETE FROM pgstaging.actor_logins")
        conn.execute("DELETE FROM pgstaging.data_migrations")
        conn.execute("UPDATE pgstaging.installs SET version = '0.0.9', checksum = 'old'")

    assert install(target.url()).changed
    assert fetch_all(
        target.admin_url, "SELECT role_kind, role_name FROM pgstaging.group_roles ORDER BY 1"
    ) == [
        ("reader", "staging_reader"),
        ("script", "staging_script"),
        ("steward", "staging_steward"),
        ("validator", "staging_validator"),
    ]
    # The login that staged is bound to its actor, with stage where it staged.
    assert fetch_all(
        target.admin_url,
        """SELECT a.actor_name, l.login, r.table_name, r.right_name
           FROM pgstaging.actor_logins AS l JOIN actors AS a USING (actor_id)
           JOIN pgstaging.actor_rights AS r USING (actor_id)""",
    ) == [("upgrade_fetcher", "script_login", "postings", "stage")]
    with StagingClient.connect(target.url("script_login")) as script:
        script.stage("postings", run_id, "upgrade_fetcher", [{"job_id": "OLD-2", "title": "y"}])
    with StagingClient.connect(target.url("validator_login")) as validator:
        assert validator.promote("postings", run_id).promoted_count == 2
    # Once: a binding the owner removes stays removed.
    with psycopg.connect(target.url(), autocommit=True) as conn:
        conn.execute("DELETE FROM pgstaging.actor_rights")
    assert install(target.url(), force=True).changed
    assert fetch_all(target.admin_url, "SELECT * FROM pgstaging.actor_rights") == []
