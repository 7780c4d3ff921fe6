"""Child process of bench/run.py: stage N rows via stage_copy from a generator.

A process of its own, so that its peak RSS (VmHWM) is this staging alone
and not what the parent held before. Prints one JSON object: RSS
samples along the way, the peak, and the elapsed time.

usage: memory_probe.py ROWS PREFIX WORKFLOW_RUN_ID ACTOR_ID
(DATABASE_URL: the owner, who streams the documents; BENCH_SCRIPT_URL: the
script login that stages them.)
"""

from __future__ import annotations

import json
import os
import sys
import time

from common import documents, rss_bytes
from pgstaging.client import StagingClient


def main(argv: list[str]) -> int:
    rows, prefix, workflow_run_id, actor_id = int(argv[0]), argv[1], int(argv[2]), int(argv[3])
    every = max(rows // 20, 1)
    samples: list[tuple[int, int]] = []

    def sampled(stream):
        for count, document in enumerate(stream, start=1):
            yield document
            if count % every == 0:
                samples.append((count, rss_bytes()))

    with StagingClient.connect(os.environ["BENCH_SCRIPT_URL"]) as client:
        samples.append((0, rss_bytes()))
        start = time.perf_counter()
        staged = client.stage_copy(
            "postings",
            workflow_run_id,
            actor_id,
            sampled(documents(os.environ["DATABASE_URL"], prefix, rows)),
        )
        elapsed = time.perf_counter() - start
    peak = rss_bytes("VmHWM")
    print(json.dumps({"rows": staged, "seconds": elapsed, "samples": samples, "peak": peak}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
