"""The validator actor: promotes one run's staged postings.

stdin:  {"workflow_run_id": N}
stdout: the design's summary, from promote_postings_staging(N)

All the logic is in the database; this only calls it. Needs the
staging_validator role.
"""

from __future__ import annotations

import sys
from typing import Any

from pgstaging.actors._io import run_actor, run_id
from pgstaging.client import StagingClient


def handle(request: dict[str, Any], conninfo: str) -> dict[str, Any]:
    workflow_run_id = run_id(request)
    with StagingClient.connect(conninfo) as client:
        client.require_run(workflow_run_id)
        return client.promote("postings", workflow_run_id).as_json()


def main() -> int:
    return run_actor(handle)


if __name__ == "__main__":
    sys.exit(main())
