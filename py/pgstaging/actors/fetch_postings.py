"""Example fetcher actor: writes the jobs it fetched to postings_staging.

stdin:  {"workflow_run_id": N, "actor_id": N, "jobs": [{...}, ...]}
        ("jobs_file": "path.jsonl" instead of "jobs" reads JSON lines)
stdout: {"status": "SUCCESS", "staging_ids": [...], "count": N}

A real fetcher would call a job board's API where this reads its input;
it needs only the staging_script role.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pgstaging.actors._io import run_actor, run_id
from pgstaging.client import StagingClient


def fetch_jobs(request: dict[str, Any]) -> list[Any]:
    if "jobs_file" in request:
        with open(request["jobs_file"], encoding="utf-8") as stream:
            return [json.loads(line) for line in stream if line.strip()]
    jobs = request.get("jobs", [])
    if not isinstance(jobs, list):
        raise ValueError('"jobs" must be a JSON array')
    return jobs


def handle(request: dict[str, Any], conninfo: str) -> dict[str, Any]:
    jobs = fetch_jobs(request)
    with StagingClient.connect(conninfo) as client:
        ids = client.stage(
            "postings",
            run_id(request),
            request.get("actor_id"),
            jobs,
            interaction_id=request.get("interaction_id"),
        )
    return {"status": "SUCCESS", "staging_ids": ids, "count": len(ids)}


def main() -> int:
    return run_actor(handle)


if __name__ == "__main__":
    sys.exit(main())
