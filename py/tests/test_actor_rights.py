"""Actors with their own rights through the client and the CLI; stewards restage.

The rights matrix itself is pgTAP's (sql/tests/08_actor_rights.sql); here
the same rules hold for COPY and batched staging, the CLI offers
``actor add|allow|disallow|list`` (owner only) and ``restage`` (owner and
stewards).
"""

from __future__ import annotations

import json

import pytest
from pgstaging.errors import PermissionDenied
from support import assert_one_line_error, fetch_all, run_cli

DOCS = [{"job_id": "AR-1", "title": "One"}, {"job_id": "AR-2", "title": "Two"}]


def test_a_login_stages_only_as_its_own_actors_by_insert_and_by_copy(db, owner, run_id):
    stranger = owner.register_actor("stranger")  # bound to no login
    with db.client("script_login") as script:
        with pytest.raises(PermissionDenied, match="not bound"):
            script.stage("postings", run_id, stranger, DOCS)
        with pytest.raises(PermissionDenied, match="not bound"):
            script.stage_copy("postings", run_id, stranger, DOCS)
        assert script.stage_copy("postings", run_id, "test_fetcher", DOCS) == 2
    assert fetch_all(db.admin_url, "SELECT count(*), min(inserted_by) FROM postings_staging") == [
        (2, "script_login")
    ]


def test_cli_actor_add_allow_list_disallow(db, run_id):
    done = run_cli("actor", "add", "cli_fetcher", "nobody_login", url=db.owner_url)
    assert done.returncode == 0, done.stderr
    added = json.loads(done.stdout)
    assert added["actor"] == "cli_fetcher" and added["login"] == "nobody_login"
    done = run_cli(
        "actor",
        "allow",
        "cli_fetcher",
        "patch",
        "postings",
        "--fields",
        "description,location",
        url=db.owner_url,
    )
    assert done.returncode == 0, done.stderr
    assert run_cli("actor", "allow", "cli_fetcher", "start", url=db.owner_url).returncode == 0
    listed = [
        json.loads(line) for line in run_cli("actor", "list", url=db.owner_url).stdout.splitlines()
    ]
    (mine,) = [a for a in listed if a["actor_name"] == "cli_fetcher"]
    assert mine == {
        "actor_id": added["actor_id"],
        "actor_name": "cli_fetcher",
        "logins": ["nobody_login"],
        "rights": [
            {"table": None, "right": "start", "fields": None},
            {"table": "postings", "right": "patch", "fields": ["description", "location"]},
        ],
    }
    done = run_cli("actor", "disallow", "cli_fetcher", "patch", "postings", url=db.owner_url)
    assert done.returncode == 0, done.stderr
    assert fetch_all(
        db.admin_url,
        "SELECT right_name FROM pgstaging.actor_rights WHERE actor_id = %s",
        (added["actor_id"],),
    ) == [("start",)]
    # Key fields are not patchable; bad input is 22023 (exit 6).
    done = run_cli(
        "actor", "allow", "cli_fetcher", "patch", "postings", "--fields", "job_id", url=db.owner_url
    )
    assert_one_line_error(done, 6, "22023", "not patchable")
    # Owner only.
    done = run_cli("actor", "add", "mine", "script_login", url=db.url("script_login"))
    assert_one_line_error(done, 5)


def failed_row(db, owner, script, validator) -> tuple[int, int]:
    run_id = owner.start_run()
    (staging_id,) = script.stage("postings", run_id, "test_fetcher", [{"job_id": "ST-1"}])
    assert validator.promote("postings", run_id).failed_count == 1
    return run_id, staging_id


def test_a_steward_restages_a_failed_row_from_the_cli(db, owner, script, validator):
    run_id, bad = failed_row(db, owner, script, validator)
    fixed = json.dumps({"job_id": "ST-1", "title": "Fixed"})
    for login in ("validator_login", "script_login", "reader_login"):
        done = run_cli("restage", "postings", str(bad), "-", url=db.url(login), input=fixed)
        assert_one_line_error(done, 5, "restage")

    done = run_cli("restage", "postings", str(bad), "-", url=db.url("steward_login"), input=fixed)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "SUCCESS" and result["supersedes_staging_id"] == bad
    # A steward is a validator too: it promotes the fix.
    with db.client("steward_login") as steward:
        assert steward.promote("postings", run_id).promoted_count == 1
    assert fetch_all(
        db.admin_url,
        "SELECT staging_id, supersedes_staging_id, outcome FROM postings_staging ORDER BY 1",
    ) == [(bad, None, "superseded"), (result["staging_id"], bad, "promoted")]


def test_restage_reads_one_document_from_a_file(db, owner, script, validator, tmp_path):
    _, bad = failed_row(db, owner, script, validator)
    path = tmp_path / "fix.json"
    path.write_text(json.dumps({"job_id": "ST-1", "title": "From a file"}) + "\n")
    done = run_cli("restage", "postings", str(bad), str(path), url=db.owner_url)
    assert done.returncode == 0, done.stderr
    done = run_cli("restage", "postings", str(bad), "-", url=db.owner_url, input="{}\n{}\n")
    assert_one_line_error(done, 7, "exactly one")
