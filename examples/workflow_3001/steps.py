"""Workflow 3001's steps, each a script actor with the design's JSON contract:
one JSON object on stdin, one on stdout. Each runs as its own login
(DATABASE_URL), with only its actor's rights; pgstaging judges what it stages.

    python examples/workflow_3001/steps.py STEP < request.json

Steps: start, end, fetch, validate, parse, extract_job_skills,
extract_profile_skills, map_skills.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from pgstaging.actors import fetch_postings
from pgstaging.actors._io import run_actor, run_id
from pgstaging.client import StagingClient
from pgstaging.errors import GateFailed

HERE = Path(__file__).resolve().parent
# The job skill extractor's vocabulary (a real one would call a model).
SKILLS = ("Python", "SQL", "PostgreSQL", "Kubernetes", "Excel")
TAG = re.compile(r"<[^>]+>")


def _read_postings(conninfo: str, posting_ids: list[int]) -> list[tuple[int, str, str | None]]:
    query = (HERE / "sql" / "read_postings.sql").read_text(encoding="utf-8")
    with StagingClient.connect(conninfo) as client:
        return client.conn.execute(query, {"posting_ids": posting_ids}).fetchall()


def _stage(conninfo: str, table: str, request: dict[str, Any], documents: list, **options) -> dict:
    with StagingClient.connect(conninfo) as client:
        ids = client.stage(table, run_id(request), None, documents, **options)
    return {"status": "SUCCESS", "staging_ids": ids, "count": len(ids)}


def start(request: dict[str, Any], conninfo: str) -> dict[str, Any]:
    with StagingClient.connect(conninfo) as client:
        return {"workflow_run_id": client.start_run(request.get("workflow_id"))}


def end(request: dict[str, Any], conninfo: str) -> dict[str, Any]:
    with StagingClient.connect(conninfo) as client:
        return client.end_run(run_id(request), request["status"])


def fetch(request: dict[str, Any], conninfo: str) -> dict[str, Any]:
    return fetch_postings.handle(
        request | {"jobs_file": str(HERE / "data" / "jobs.jsonl")}, conninfo
    )


def validate(request: dict[str, Any], conninfo: str) -> dict[str, Any]:
    """Promote one staged table's rows of the run; output the ids it promoted or changed."""
    table = request["table"]
    with StagingClient.connect(conninfo) as client:
        result = client.promote(
            table, run_id(request), interaction_id=request.get("interaction_id")
        )
    id_column = {
        "postings": "posting_id",
        "job_skills": "job_skill_id",
        "profile_skills": "profile_skill_id",
        "skill_aliases": "skill_alias_id",
    }[table]
    details = result.summary["details"]
    output = result.as_json() | {
        "ids": [d[id_column] for d in details["promoted"] + details.get("updated", [])]
    }
    if result.status == "FAILED":
        raise GateFailed(output)
    return output


def parse(request: dict[str, Any], conninfo: str) -> dict[str, Any]:
    """The design's Step 4: read the promoted postings, patch their description."""
    patches = [
        {"job_id": key, "description": " ".join(TAG.sub(" ", description or "").split())}
        for _, key, description in _read_postings(conninfo, request["posting_ids"])
    ]
    return _stage(conninfo, "postings", request, patches, operation="patch")


def extract_job_skills(request: dict[str, Any], conninfo: str) -> dict[str, Any]:
    rows = [
        {"job_id": key, "skill": skill}
        for _, key, description in _read_postings(conninfo, request["posting_ids"])
        for skill in SKILLS
        if re.search(rf"\b{skill}\b", description or "", re.IGNORECASE)
    ]
    return _stage(conninfo, "job_skills", request, rows)


def extract_profile_skills(request: dict[str, Any], conninfo: str) -> dict[str, Any]:
    profiles = json.loads((HERE / "data" / "profiles.json").read_text(encoding="utf-8"))
    return _stage(conninfo, "profile_skills", request, profiles)


def map_skills(request: dict[str, Any], conninfo: str) -> dict[str, Any]:
    aliases = json.loads((HERE / "data" / "aliases.json").read_text(encoding="utf-8"))
    return _stage(conninfo, "skill_aliases", request, aliases)


STEPS = {
    f.__name__: f
    for f in (
        start,
        end,
        fetch,
        validate,
        parse,
        extract_job_skills,
        extract_profile_skills,
        map_skills,
    )
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in STEPS:
        print(f"usage: steps.py {'|'.join(STEPS)} < request.json", file=sys.stderr)
        sys.exit(2)
    sys.exit(run_actor(STEPS[sys.argv[1]]))
