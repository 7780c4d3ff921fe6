"""The design's Workflow 3001, end to end, every step as its own login with
only its actor's rights (examples/workflow_3001)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from support import fetch_all, fetch_one

RUN = Path(__file__).resolve().parents[2] / "examples" / "workflow_3001" / "run.py"


def test_workflow_3001_runs_every_step_with_its_own_rights(db):
    env = dict(os.environ, DATABASE_URL=db.owner_url)
    done = subprocess.run(
        [sys.executable, str(RUN)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    result = lines[-1]
    run = result["workflow_run_id"]
    steps = {s["step"]: s["summary"] for s in result["steps"]}
    # Fetch: 5 staged, 3 promoted, 1 duplicate, 1 failed; the validator outputs the ids.
    fetched = steps["fetch"]
    assert (fetched["promoted_count"], fetched["duplicate_count"], fetched["failed_count"]) == (
        3,
        1,
        1,
    )
    assert len(fetched["ids"]) == 3
    # Parse: the descriptions patched, nothing else of the postings changed.
    assert steps["parse"]["updated_count"] == 3
    postings = fetch_all(
        db.owner_url,
        "SELECT external_job_id, job_description, location, created_by_staging_id IS NOT NULL,"
        " updated_by_staging_id IS NOT NULL FROM postings ORDER BY 1",
    )
    assert postings == [
        ("DB-3001-1", "Build Python and SQL pipelines on PostgreSQL.", "Frankfurt", True, True),
        ("DB-3001-2", "Excel SQL", "London", True, True),
        ("DB-3001-3", "Kubernetes, Python, PostgreSQL", "Berlin", True, True),
    ]
    # The extractors read postings and staged what they found; rules held.
    assert steps["extract_job_skills"]["promoted_count"] == 8
    assert steps["extract_profile_skills"]["failed_count"] == 1  # "guru" is no proficiency
    assert steps["map_skills"]["details"]["failed"][0]["errors"] == [
        {"field": "canonical", "error": "maps to itself"}
    ]
    # The ledger of the run: every staged row has a verdict.
    rows = fetch_all(
        db.owner_url,
        "SELECT table_name, staged, promoted + duplicate + updated + failed"
        " FROM pgstaging.run_status(%s)",
        (run,),
    )
    ledger = {table: (staged, judged) for table, staged, judged in rows}
    assert all(staged == judged for staged, judged in ledger.values()), ledger
    # Audit: production rows point back at staged rows of this run, by the step's login.
    assert fetch_all(
        db.owner_url,
        "SELECT DISTINCT s.inserted_by FROM job_skills AS j"
        " JOIN job_skills_staging AS s ON s.staging_id = j.created_by_staging_id"
        " WHERE s.workflow_run_id = %s",
        (run,),
    ) == [("wf3001_job_skills",)]
    assert fetch_one(
        db.owner_url,
        "SELECT count(*) FROM postings AS p"
        " JOIN postings_staging AS s ON s.staging_id = p.updated_by_staging_id"
        " WHERE s.operation = 'patch' AND s.inserted_by = 'wf3001_parser'"
        " AND s.workflow_run_id = %s",
        (run,),
    ) == (3,)
    # The run succeeded, and each validation logged its own interaction id.
    assert fetch_one(
        db.owner_url, "SELECT status FROM pgstaging.runs WHERE workflow_run_id = %s", (run,)
    ) == ("succeeded",)
    assert [
        r[0]
        for r in fetch_all(
            db.owner_url,
            "SELECT interaction_id FROM pgstaging.promotion_log"
            " WHERE workflow_run_id = %s ORDER BY log_id",
            (run,),
        )
    ] == [3001001, 3001002, 3001003, 3001004, 3001005]


def test_a_step_cannot_exceed_its_rights(db):
    env = dict(os.environ, DATABASE_URL=db.owner_url)
    subprocess.run(
        [sys.executable, str(RUN)], capture_output=True, text=True, env=env, check=True, timeout=300
    )
    (run,) = fetch_one(db.owner_url, "SELECT max(workflow_run_id) FROM pgstaging.runs")
    with (
        psycopg.connect(db.url("wf3001_fetcher"), autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("SELECT job_description FROM postings")
    with psycopg.connect(db.url("wf3001_parser"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
            conn.execute(
                "INSERT INTO postings_staging (workflow_run_id, raw_data) VALUES (%s, '{}')", (run,)
            )
        assert "stage" in (refused.value.diag.message_hint or "")
