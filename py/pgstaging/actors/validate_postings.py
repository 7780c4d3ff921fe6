"""The validator actor: promotes one run's staged postings.

stdin:  {"workflow_run_id": N, "interaction_id": N (optional)}
stdout: the design's summary, from promote_postings_staging(N), plus
        "posting_ids": the ids of the postings it promoted (the design's
        Step 3 output, the parser's input)

All the logic is in the database; this only calls it. Needs the
validator group role. A run that breaks the table's gate prints the
summary (status FAILED) and exits with the gate's exit code (9).
"""

from __future__ import annotations

import sys
from typing import Any

from pgstaging.actors._io import run_actor, run_id
from pgstaging.client import StagingClient
from pgstaging.errors import GateFailed


def handle(request: dict[str, Any], conninfo: str) -> dict[str, Any]:
    workflow_run_id = run_id(request)
    with StagingClient.connect(conninfo) as client:
        client.require_run(workflow_run_id)
        result = client.promote(
            "postings", workflow_run_id, interaction_id=request.get("interaction_id")
        )
    output = result.as_json() | {"posting_ids": [p["posting_id"] for p in result.promoted]}
    if result.status == "FAILED":
        raise GateFailed(output)
    return output


def main() -> int:
    return run_actor(handle)


if __name__ == "__main__":
    sys.exit(main())
