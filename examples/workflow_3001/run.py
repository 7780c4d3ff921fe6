"""Workflow 3001, whole: every step of the design as its own login.

    python examples/workflow_3001/run.py            # on $DATABASE_URL, as its owner
    make demo-workflow                              # on a throwaway cluster

The owner sets up the logins and their actors' rights (sql/setup.sql); then
each step runs as a subprocess with its own login's DATABASE_URL, JSON on
stdin and stdout, as a workflow engine would call it. Prints each step and
ends with {"workflow_run_id", "steps": [...]}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

HERE = Path(__file__).resolve().parent

# (step, login, request, what the next steps take from its output)
STAGES = [
    ("fetch", "wf3001_fetcher", "postings"),
    ("parse", "wf3001_parser", "postings"),
    ("extract_job_skills", "wf3001_job_skills", "job_skills"),
    ("extract_profile_skills", "wf3001_profile_skills", "profile_skills"),
    ("map_skills", "wf3001_mapper", "skill_aliases"),
]


def step(owner_url: str, name: str, login: str, request: dict) -> dict:
    env = dict(os.environ, DATABASE_URL=make_conninfo(owner_url, user=login))
    done = subprocess.run(
        [sys.executable, str(HERE / "steps.py"), name],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    output = json.loads(done.stdout or "{}")
    print(json.dumps({"step": name, "login": login, "exit": done.returncode, "output": output}))
    if done.returncode != 0:
        raise SystemExit(f"step {name} failed ({done.returncode}): {done.stdout} {done.stderr}")
    return output


def run(owner_url: str) -> dict:
    with psycopg.connect(owner_url, autocommit=True) as owner:
        owner.execute((HERE / "sql" / "setup.sql").read_text(encoding="utf-8"))
    run_id = step(owner_url, "start", "wf3001_starter", {"workflow_id": 3001})["workflow_run_id"]
    interaction = 3001_000
    posting_ids: list[int] = []
    steps = []
    for name, login, table in STAGES:
        request = {"workflow_run_id": run_id, "posting_ids": posting_ids}
        staged = step(owner_url, name, login, request)
        interaction += 1
        summary = step(
            owner_url,
            "validate",
            "wf3001_validator",
            {"workflow_run_id": run_id, "table": table, "interaction_id": interaction},
        )
        if name == "fetch":
            posting_ids = summary["ids"]  # the design's Step 3 output, Step 4's input
        steps.append({"step": name, "staged": staged["count"], "summary": summary})
    step(owner_url, "end", "wf3001_starter", {"workflow_run_id": run_id, "status": "succeeded"})
    return {"workflow_run_id": run_id, "steps": steps}


def main() -> int:
    url = os.environ.get("DATABASE_URL")
    if url:
        print(json.dumps(run(url)))
        return 0
    from pgstaging import install
    from pgstaging.devcluster import temp_cluster

    with temp_cluster() as cluster:
        install(cluster.url())
        print(json.dumps(run(cluster.url())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
