"""The design's two actors: one JSON object on stdin, one JSON line on stdout."""

from __future__ import annotations

import json

import pytest
from support import Completed, fetch_all, ledger, run_module, staged_rows

FETCHER = "pgstaging.actors.fetch_postings"
VALIDATOR = "pgstaging.actors.validate_postings"

JOBS = [
    {"job_id": "ACT-1", "title": "Platform Engineer", "location": " Berlin "},
    {"job_id": "ACT-2", "title": "Analyst", "description": "Numbers"},
    {"job_id": "ACT-1", "title": "Platform Engineer (again)"},
    {"job_id": "ACT-3", "title": "   "},
    "not an object",
]


def run_actor(module: str, url: str | None, request) -> Completed:
    text = request if isinstance(request, str) else json.dumps(request)
    return run_module(module, url=url, input=text)


def assert_failed(done: Completed, exit_code: int, *fragments: str) -> dict:
    """The actors' failure contract: a FAILED object on stdout, the documented code."""
    assert done.returncode == exit_code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stdout.count("\n") == 1, done.stdout
    result = json.loads(done.stdout)
    assert set(result) == {"status", "error"} and result["status"] == "FAILED"
    for fragment in fragments:
        assert fragment in result["error"], (fragment, result["error"])
    return result


def test_fetch_then_validate(db, run_id, actor_id):
    done = run_actor(
        FETCHER,
        db.url("script_login"),
        {"workflow_run_id": run_id, "actor_id": actor_id, "interaction_id": 31, "jobs": JOBS},
    )

    assert (done.returncode, done.stderr) == (0, "")
    ids = json.loads(done.stdout)["staging_ids"]
    assert (
        done.stdout
        == json.dumps({"status": "SUCCESS", "staging_ids": ids, "count": len(JOBS)}) + "\n"
    )
    assert [r.raw_data for r in staged_rows(db.admin_url, ids)] == JOBS
    assert fetch_all(
        db.admin_url,
        "SELECT DISTINCT actor_id, interaction_id, inserted_by FROM postings_staging "
        "WHERE staging_id = ANY(%s)",
        (ids,),
    ) == [(actor_id, 31, "script_login")]

    done = run_actor(VALIDATOR, db.url("validator_login"), {"workflow_run_id": run_id})

    assert (done.returncode, done.stderr) == (0, "")
    summary = json.loads(done.stdout)
    rows = staged_rows(db.admin_url, ids)
    posting_1 = rows[0].promoted_to_id
    # The design's Step 3 output: the promoted posting ids, the parser's input.
    assert summary.pop("posting_ids") == [posting_1, rows[1].promoted_to_id]
    assert summary == {
        "status": "SUCCESS",
        "promoted_count": 2,
        "duplicate_count": 1,
        "failed_count": 2,
        "details": {
            "promoted": [
                {"staging_id": ids[0], "posting_id": posting_1},
                {"staging_id": ids[1], "posting_id": rows[1].promoted_to_id},
            ],
            "duplicates": [{"staging_id": ids[2], "posting_id": posting_1}],
            "failed": [
                {"staging_id": ids[3], "errors": [{"field": "title", "error": "empty"}]},
                {"staging_id": ids[4], "errors": [{"field": "raw_data", "error": "not an object"}]},
            ],
        },
    }
    assert rows[0].posting["location"] == "Berlin"
    assert rows[0].posting["created_by_interaction_id"] == 31

    again = run_actor(VALIDATOR, db.url("validator_login"), {"workflow_run_id": run_id})
    assert again.returncode == 0
    assert json.loads(again.stdout)["details"] == {"promoted": [], "duplicates": [], "failed": []}


def test_fetch_from_a_jobs_file_with_an_actor_name(db, run_id, actor_id, tmp_path):
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n".join(json.dumps(j) for j in JOBS) + "\n\n", encoding="utf-8")

    done = run_actor(
        FETCHER,
        db.url("script_login2"),
        {"workflow_run_id": run_id, "actor_id": "test_fetcher", "jobs_file": str(path)},
    )

    assert (done.returncode, done.stderr) == (0, "")
    result = json.loads(done.stdout)
    assert result["count"] == len(JOBS) == len(result["staging_ids"])
    rows = staged_rows(db.admin_url, result["staging_ids"])
    assert [r.raw_data for r in rows] == JOBS
    assert fetch_all(
        db.admin_url, "SELECT DISTINCT actor_id, inserted_by FROM postings_staging"
    ) == [(actor_id, "script_login2")]


def test_fetch_without_jobs_stages_nothing(db, run_id):
    done = run_actor(FETCHER, db.url("script_login"), {"workflow_run_id": run_id})
    assert done.returncode == 0
    assert json.loads(done.stdout) == {"status": "SUCCESS", "staging_ids": [], "count": 0}


@pytest.mark.parametrize(
    ("request_text", "fragment"),
    [
        ("not json at all", "bad input"),
        ('["a", "list"]', "must be a JSON object"),
        ("{}", "workflow_run_id"),
        ('{"workflow_run_id": null}', "bad input"),
        ('{"workflow_run_id": "seven"}', "bad input"),
        ('{"workflow_run_id": 1.9}', "must be an integer"),
        ('{"workflow_run_id": true}', "must be an integer"),
        ('{"workflow_run_id": RUN, "jobs": 5}', "jobs"),
        ('{"workflow_run_id": RUN, "jobs": "a string"}', "jobs"),
        ('{"workflow_run_id": RUN, "jobs_file": "/no/such/file.jsonl"}', "/no/such/file.jsonl"),
        ('{"workflow_run_id": RUN, "jobs": [' + "[" * 50_000 + "]" * 50_000 + "]}", "bad input"),
    ],
)
def test_fetch_bad_input_exits_7(db, run_id, request_text, fragment):
    done = run_actor(FETCHER, db.url("script_login"), request_text.replace("RUN", str(run_id)))
    assert_failed(done, 7, fragment)
    assert ledger(db.admin_url, run_id)["staged"] == 0


def test_fetch_refusals(db, run_id, actor_id):
    request = {"workflow_run_id": run_id, "actor_id": actor_id, "jobs": JOBS}
    assert_failed(run_actor(FETCHER, db.url("validator_login"), request), 5, "permission denied")
    assert_failed(run_actor(FETCHER, db.url("nobody_login"), request), 5, "permission denied")
    assert_failed(
        run_actor(FETCHER, db.url("script_login"), dict(request, workflow_run_id=run_id + 99)),
        4,
        "unknown workflow run",
    )
    assert_failed(
        run_actor(FETCHER, db.url("script_login"), dict(request, actor_id="ghost")), 4, "ghost"
    )
    assert_failed(
        run_actor(FETCHER, "postgresql://x@127.0.0.1:1/none", request), 3, "cannot connect"
    )
    assert ledger(db.admin_url, run_id)["staged"] == 0


def test_validate_refusals(db, script, run_id, actor_id):
    script.stage("postings", run_id, actor_id, JOBS)

    assert_failed(
        run_actor(VALIDATOR, db.url("script_login"), {"workflow_run_id": run_id}),
        5,
        "permission denied",
    )
    assert_failed(
        run_actor(VALIDATOR, db.url("reader_login"), {"workflow_run_id": run_id}),
        5,
        "permission denied",
    )
    assert_failed(
        run_actor(VALIDATOR, db.url("validator_login"), {"workflow_run_id": run_id + 99}),
        4,
        f"unknown workflow run {run_id + 99}",
    )
    assert_failed(run_actor(VALIDATOR, db.url("validator_login"), {}), 7, "workflow_run_id")
    assert_failed(run_actor(VALIDATOR, db.url("validator_login"), "[]"), 7)
    assert_failed(
        run_actor(VALIDATOR, "postgresql://x@127.0.0.1:1/none", {"workflow_run_id": run_id}), 3
    )
    assert ledger(db.admin_url, run_id)["pending"] == len(JOBS)
