"""Trying a spec before it goes live: spec check, spec try, spec show."""

from __future__ import annotations

import json
from pathlib import Path

from support import fetch_one, run_cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "specs" / "companies.sql"


def postings_spec(db) -> dict:
    return fetch_one(
        db.owner_url, "SELECT spec FROM pgstaging.staged_tables WHERE table_name = 'postings'"
    )[0]


def test_spec_check_compiles_a_sql_spec_file_and_registers_nothing(db):
    done = run_cli("spec", "check", str(EXAMPLE), url=db.owner_url)
    assert done.returncode == 0, done.stderr
    for step in ("judge", "insert", "patch_lock", "patch", "verdict"):
        assert f"-- step: {step}" in done.stdout
    assert "registry_number__candidate" in done.stdout
    assert fetch_one(db.owner_url, "SELECT to_regclass('companies')") == (None,)
    assert fetch_one(
        db.owner_url, "SELECT count(*) FROM pgstaging.staged_tables WHERE table_name = 'companies'"
    ) == (0,)


def test_spec_check_refuses_a_misspelt_key_naming_its_path(db, tmp_path):
    spec = postings_spec(db)
    spec["fields"][2]["max_lenght"] = spec["fields"][2].pop("max_length")
    path = tmp_path / "postings.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    done = run_cli("spec", "check", str(path), url=db.owner_url)
    assert done.returncode == 6, done
    assert "fields[2].max_lenght" in done.stderr and "max_length" in done.stderr


def test_spec_try_shows_how_verdicts_would_change(db, owner, script, validator, actor_id, tmp_path):
    run = owner.start_run()
    script.stage(
        "postings",
        run,
        actor_id,
        [{"job_id": "T-1", "title": "Engineer"}, {"job_id": "T-2", "title": "Data scientist"}],
    )
    validator.promote("postings", run)
    spec = postings_spec(db)
    spec["fields"][2]["max_length"] = 10  # titles of at most 10 characters
    path = tmp_path / "postings.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    before = fetch_one(
        db.owner_url, "SELECT count(*), max(rule_version) FROM pgstaging.rule_versions"
    )
    done = run_cli("spec", "try", str(path), "--run", str(run), url=db.owner_url)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["judged"], report["newly_failing"], report["newly_passing"]) == (2, 1, 0)
    (change,) = report["changes"]
    assert (change["field"], change["error"], change["rows"]) == ("title", "too long", 1)
    assert change["examples"][0]["raw_data"]["job_id"] == "T-2"
    # Nothing changed: the same rules, the same verdicts.
    assert (
        fetch_one(db.owner_url, "SELECT count(*), max(rule_version) FROM pgstaging.rule_versions")
        == before
    )
    assert (
        validator.status(run)[0].promoted + sum(r.promoted for r in validator.status(run)[1:]) == 2
    )


def test_spec_show_prints_the_spec_its_versions_and_its_sql(db):
    done = run_cli("spec", "show", "postings", url=db.url("validator_login"))
    assert done.returncode == 0, done.stderr
    assert '"natural_key"' in done.stdout and "-- version 1:" in done.stdout
    assert "-- step: verdict" in done.stdout
    unknown = run_cli("spec", "show", "nope", url=db.owner_url)
    assert unknown.returncode == 4
