"""The installer: idempotent, non-superuser, roles that already exist, concurrency."""

from __future__ import annotations

import threading

import psycopg
import pytest
from pgstaging import PgStagingError, __version__, install, sqlfiles
from pgstaging.devcluster import OWNER
from psycopg.conninfo import make_conninfo
from support import fetch_all, fetch_one, ledger

GROUP_KINDS = ("script", "validator", "reader", "steward")

# Everything pgstaging puts in the catalog, without OIDs: relations, columns,
# functions, triggers, constraints, indexes, views, schemas, comments, ACLs
# (sorted, so that only content counts) and role memberships.
CATALOG_QUERIES = {
    "schemas": """
        SELECT n.nspname, pg_get_userbyid(n.nspowner),
               (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(n.nspacl) AS a),
               obj_description(n.oid, 'pg_namespace')
        FROM pg_namespace AS n WHERE n.nspname IN ('public', 'pgstaging') ORDER BY 1""",
    "relations": """
        SELECT n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relrowsecurity,
               (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(c.relacl) AS a),
               obj_description(c.oid, 'pg_class'),
               CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END
        FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('public', 'pgstaging') ORDER BY 1, 2""",
    "columns": """
        SELECT n.nspname, c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, a.attidentity, pg_get_expr(d.adbin, d.adrelid),
               (SELECT array_agg(x::text ORDER BY x::text) FROM unnest(a.attacl) AS x),
               col_description(c.oid, a.attnum)
        FROM pg_attribute AS a
        JOIN pg_class AS c ON c.oid = a.attrelid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname IN ('public', 'pgstaging') AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY 1, 2, 3""",
    "functions": """
        SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
               pg_get_functiondef(p.oid), p.prosecdef, p.proconfig, pg_get_userbyid(p.proowner),
               (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(p.proacl) AS a),
               obj_description(p.oid, 'pg_proc')
        FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname IN ('public', 'pgstaging') ORDER BY 1, 2, 3""",
    "triggers": """
        SELECT t.tgrelid::regclass::text, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled
        FROM pg_trigger AS t
        JOIN pg_class AS c ON c.oid = t.tgrelid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('public', 'pgstaging') AND NOT t.tgisinternal ORDER BY 1, 2""",
    "constraints": """
        SELECT n.nspname, c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
        FROM pg_constraint AS c JOIN pg_namespace AS n ON n.oid = c.connamespace
        WHERE n.nspname IN ('public', 'pgstaging') ORDER BY 1, 2, 3""",
    "indexes": """
        SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname IN ('public', 'pgstaging') ORDER BY 1, 2, 3""",
    "roles": """
        SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolinherit,
               shobj_description(r.oid, 'pg_authid'),
               (SELECT array_agg(g.rolname || ':' || m.admin_option ORDER BY g.rolname)
                FROM pg_auth_members AS m JOIN pg_roles AS g ON g.oid = m.roleid
                WHERE m.member = r.oid)
        FROM pg_roles AS r
        WHERE r.rolname LIKE 'staging\\_%' OR r.rolname LIKE '%\\_login' ORDER BY 1""",
}


def catalog(url: str) -> dict[str, list[tuple]]:
    return {name: fetch_all(url, query) for name, query in CATALOG_QUERIES.items()}


def installs(url: str) -> list[tuple]:
    return fetch_all(
        url,
        "SELECT version, checksum, target_schema, installed_by FROM pgstaging.installs "
        "ORDER BY install_id",
    )


def assert_catalogs_equal(before: dict, after: dict) -> None:
    for name in CATALOG_QUERIES:
        assert after[name] == before[name], f"catalog section {name!r} changed"


def stage_and_promote_one(db, key: str) -> dict[str, int]:
    """Prove the install works end to end, as real logins: stage, promote, ledger."""
    # The test logins join this install's group roles and run its actors.
    with psycopg.connect(db.admin_url, autocommit=True) as conn:
        conn.execute(sqlfiles.query("dev/create_test_logins.sql"))
    with db.client() as owner:
        run_id = owner.start_run()
        actor_id = owner.register_actor("installer_test")
    with db.client("script_login") as script:
        script.stage("postings", run_id, actor_id, [{"job_id": key, "title": "Installed"}])
    with db.client("validator_login") as validator:
        assert validator.promote("postings", run_id).promoted_count == 1
    return ledger(db.admin_url, run_id)


def test_second_install_is_a_no_op(db):
    before_catalog, before_ledger = catalog(db.admin_url), installs(db.admin_url)
    assert len(before_ledger) == 1

    result = install(db.owner_url)

    assert (result.changed, result.version, result.target_schema) == (False, __version__, "public")
    assert result.previous_version == __version__
    assert installs(db.admin_url) == before_ledger
    assert_catalogs_equal(before_catalog, catalog(db.admin_url))


def test_catalog_probe_sees_pgstaging_objects(db):
    # Guard against a vacuous comparison: the probe must see what was installed.
    snapshot = catalog(db.admin_url)
    relations = {(r[0], r[1]) for r in snapshot["relations"]}
    assert {
        ("public", "postings"),
        ("public", "postings_staging"),
        ("pgstaging", "installs"),
    } <= relations
    assert any(f[1] == "promote_postings_staging" and f[4] for f in snapshot["functions"])
    assert {t[1] for t in snapshot["triggers"]} >= {
        "postings_guard_writes",
        "postings_staging_refuse_forged",
    }
    assert any(c[8] for c in snapshot["columns"] if c[1] == "postings_staging")  # column ACLs


def test_force_reinstall_reruns_and_changes_no_catalog_object(db):
    before_catalog, before_ledger = catalog(db.admin_url), installs(db.admin_url)

    result = install(db.owner_url, force=True)

    assert result.changed is True and result.previous_version == __version__
    after_ledger = installs(db.admin_url)
    assert after_ledger[:-1] == before_ledger and len(after_ledger) == len(before_ledger) + 1
    assert after_ledger[-1] == (__version__, before_ledger[-1][1], "public", OWNER)
    assert_catalogs_equal(before_catalog, catalog(db.admin_url))
    assert stage_and_promote_one(db, "AFTER-FORCE")["promoted"] == 1


def test_force_reinstall_keeps_data_and_verdicts(db, script, validator, run_id, actor_id):
    ids = script.stage(
        "postings", run_id, actor_id, [{"job_id": "KEEP-1", "title": "kept"}, {"title": "no id"}]
    )
    validator.promote("postings", run_id)
    before = fetch_all(db.admin_url, "SELECT * FROM postings_staging ORDER BY staging_id")
    postings_before = fetch_all(db.admin_url, "SELECT * FROM postings ORDER BY posting_id")

    install(db.owner_url, force=True)

    assert fetch_all(db.admin_url, "SELECT * FROM postings_staging ORDER BY staging_id") == before
    assert fetch_all(db.admin_url, "SELECT * FROM postings ORDER BY posting_id") == postings_before
    assert len(before) == len(ids) == 2


def test_changed_scripts_upgrade_and_converge_to_the_same_catalog(db):
    # An install whose recorded checksum differs (as after an upgrade of the
    # scripts) re-runs everything; the result is the same catalog.
    before = catalog(db.admin_url)
    with psycopg.connect(db.owner_url, autocommit=True) as conn:
        conn.execute("UPDATE pgstaging.installs SET version = '0.0.1', checksum = 'old'")

    result = install(db.owner_url)

    assert result.changed is True and result.previous_version == "0.0.1"
    assert installs(db.admin_url)[-1][:3] == (__version__, sqlfiles.install_checksum(), "public")
    assert_catalogs_equal(before, catalog(db.admin_url))
    assert install(db.owner_url).changed is False


def test_install_into_fresh_database_when_roles_already_exist(empty_db, template_db):
    # The template's group roles exist; this database has none of pgstaging.
    prefix = fetch_one(
        make_conninfo(empty_db.admin_url, dbname=template_db),
        "SELECT role_prefix FROM pgstaging.group_roles LIMIT 1",
    )[0]
    names = sorted(f"{prefix}_{k}" for k in GROUP_KINDS)
    roles = "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY (%s) ORDER BY 1"
    roles_before = fetch_all(empty_db.admin_url, roles, (names,))
    assert [r[0] for r in roles_before] == names
    assert fetch_one(empty_db.admin_url, "SELECT to_regnamespace('pgstaging')") == (None,)

    result = install(empty_db.owner_url, role_prefix=prefix)

    assert result.changed is True and result.previous_version is None
    assert fetch_all(empty_db.admin_url, roles, (names,)) == roles_before
    # The pre-existing logins work here once they run actors: grants are per
    # database, and so are actors' rights.
    assert stage_and_promote_one(empty_db, "FRESH-1") == {
        "staged": 1,
        "pending": 0,
        "promoted": 1,
        "duplicate": 0,
        "failed": 0,
    }
    assert install(empty_db.owner_url).changed is False


def test_install_as_the_non_superuser_owner_owns_everything(empty_db):
    (is_super, can_create_role) = fetch_one(
        empty_db.admin_url,
        "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = %s",
        (OWNER,),
    )
    assert (is_super, can_create_role) == (False, True)

    install(empty_db.owner_url)

    owners = fetch_all(
        empty_db.admin_url,
        """SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class AS c
           JOIN pg_namespace AS n ON n.oid = c.relnamespace
           WHERE n.nspname IN ('public', 'pgstaging')
           UNION
           SELECT DISTINCT pg_get_userbyid(p.proowner) FROM pg_proc AS p
           JOIN pg_namespace AS n ON n.oid = p.pronamespace
           WHERE n.nspname IN ('public', 'pgstaging')""",
    )
    assert owners == [(OWNER,)]
    # The SECURITY DEFINER function runs as the owner, never as a superuser.
    assert fetch_one(
        empty_db.admin_url,
        "SELECT pg_get_userbyid(proowner), prosecdef FROM pg_proc "
        "WHERE oid = 'promote_postings_staging(integer, boolean, bigint, boolean)'::regprocedure",
    ) == (OWNER, True)
    assert installs(empty_db.admin_url)[0][3] == OWNER


def test_install_into_a_missing_schema_fails_clearly_and_leaves_nothing(empty_db):
    with pytest.raises(PgStagingError) as caught:
        install(empty_db.owner_url, target_schema="no_such_schema")

    assert str(caught.value) == 'target schema "no_such_schema" does not exist; create it first'
    assert fetch_one(
        empty_db.admin_url,
        "SELECT to_regnamespace('pgstaging'), to_regclass('public.postings')",
    ) == (None, None)


def test_install_into_another_schema_then_refuses_a_second_target(empty_db):
    with psycopg.connect(empty_db.owner_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA jobs")

    result = install(empty_db.owner_url, target_schema="jobs")

    assert (result.changed, result.target_schema) == (True, "jobs")
    assert fetch_one(
        empty_db.admin_url,
        "SELECT to_regclass('jobs.postings_staging') IS NOT NULL, "
        "to_regclass('public.postings_staging') IS NULL",
    ) == (True, True)
    assert install(empty_db.owner_url, target_schema="jobs").changed is False
    with pytest.raises(PgStagingError, match='installed in schema "jobs", not "public"'):
        install(empty_db.owner_url)


def test_install_with_a_bad_connection_raises_connection_failed(empty_db):
    from pgstaging import ConnectionFailed

    with pytest.raises(ConnectionFailed):
        install(empty_db.url().replace(empty_db.name, "no_such_database_here"))


def _install_in_threads(url: str, count: int, **kwargs) -> tuple[list, list]:
    barrier = threading.Barrier(count)
    results: list = []
    errors: list = []

    def work() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(install(url, **kwargs))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results, errors


def test_concurrent_first_installs_both_succeed_once(empty_db):
    results, errors = _install_in_threads(empty_db.owner_url, 2)

    assert errors == []
    assert sorted(r.changed for r in results) == [False, True]
    assert len(installs(empty_db.admin_url)) == 1
    assert stage_and_promote_one(empty_db, "CONCURRENT-1")["promoted"] == 1


def test_concurrent_forced_installs_serialize(db):
    before = catalog(db.admin_url)

    results, errors = _install_in_threads(db.owner_url, 2, force=True)

    assert errors == []
    assert [r.changed for r in results] == [True, True]
    assert len(installs(db.admin_url)) == 3
    assert_catalogs_equal(before, catalog(db.admin_url))
