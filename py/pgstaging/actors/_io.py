"""Shared stdin/stdout plumbing for the actor scripts."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

from pgstaging.errors import GateFailed, PgStagingError


def run_id(request: dict[str, Any]) -> int:
    """The request's workflow_run_id: an integer, never a float or a boolean."""
    value = request.get("workflow_run_id")
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("workflow_run_id must be an integer")
    return value


def run_actor(handler: Callable[[dict[str, Any], str], dict[str, Any]]) -> int:
    """Read one JSON object from stdin, print the handler's JSON result.

    On failure, print {"status": "FAILED", "error": ...} and exit with the
    error's documented code, so the workflow engine can fail fast.
    """
    try:
        request = json.loads(sys.stdin.read() or "{}")
        if not isinstance(request, dict):
            raise ValueError("input must be a JSON object")
        result = handler(request, os.environ.get("DATABASE_URL", ""))
    except GateFailed as held:
        # The summary itself says what failed: status FAILED, the gate.
        print(json.dumps(held.args[0], ensure_ascii=False))
        return held.exit_code
    except PgStagingError as error:
        print(json.dumps({"status": "FAILED", "error": str(error)}))
        return error.exit_code
    except (ValueError, KeyError, TypeError, OSError, RecursionError) as error:
        print(json.dumps({"status": "FAILED", "error": f"bad input: {error}"}))
        return 7
    print(json.dumps(result, ensure_ascii=False))
    return 0
