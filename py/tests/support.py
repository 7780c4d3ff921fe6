"""Helpers shared by the tests: subprocess runs, probes of the database, the rules' oracle.

Probing SQL lives here and in the tests, never in the package.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from pgstaging import sqlfiles

# -- subprocesses -----------------------------------------------------------


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str


def run_module(
    module: str,
    args: list[str] | tuple[str, ...] = (),
    *,
    url: str | None,
    input: str | None = None,
    timeout: float = 60,
) -> Completed:
    """``python -m module args`` with DATABASE_URL=url (unset when url is None)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PGSTAGING_ADMIN_URL")}
    if url is not None:
        env["DATABASE_URL"] = url
    # Wide, plain output from rich, whatever terminal pytest runs in.
    env.update(COLUMNS="250", NO_COLOR="1", TERM="dumb", PYTHONIOENCODING="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        input=input,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=timeout,
    )
    return Completed(done.returncode, done.stdout, done.stderr)


def run_cli(*args: str, url: str | None, input: str | None = None) -> Completed:
    return run_module("pgstaging", list(args), url=url, input=input)


def assert_one_line_error(done: Completed, exit_code: int, *fragments: str) -> None:
    """The CLI's error contract: the documented code, one line on stderr, no traceback."""
    assert done.returncode == exit_code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("pgstaging: "), done.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert done.stdout == ""


# -- probing the database ---------------------------------------------------


def fetch_all(url: str, query: str, params: Any = None) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def fetch_one(url: str, query: str, params: Any = None) -> tuple | None:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchone()


@dataclass(frozen=True)
class StagedRow:
    staging_id: int
    workflow_run_id: int
    raw_data: Any
    outcome: str | None
    validation_errors: list[dict[str, str]] | None
    promoted_to_id: int | None
    posting: dict[str, Any] | None  # the production row it points to


STAGED_ROWS = """
SELECT s.staging_id, s.workflow_run_id, s.raw_data, s.outcome, s.validation_errors,
       s.promoted_to_id,
       CASE WHEN p.posting_id IS NOT NULL THEN jsonb_build_object(
           'posting_id', p.posting_id,
           'external_job_id', p.external_job_id,
           'source_website', p.source_website,
           'job_title', p.job_title,
           'job_description', p.job_description,
           'company_name', p.company_name,
           'location', p.location,
           'created_by_staging_id', p.created_by_staging_id,
           'created_by_interaction_id', p.created_by_interaction_id)
       END
FROM postings_staging AS s
LEFT JOIN postings AS p ON p.posting_id = s.promoted_to_id
WHERE s.staging_id = ANY(%s)
ORDER BY s.staging_id
"""


def staged_rows(url: str, staging_ids: list[int]) -> list[StagedRow]:
    """The rows (as the owner or a superuser sees them), in staging_id order."""
    return [StagedRow(*row) for row in fetch_all(url, STAGED_ROWS, (list(staging_ids),))]


def ledger(url: str, run_id: int) -> dict[str, int]:
    """Counts straight from the staging table, not through the package's report."""
    (row,) = fetch_all(
        url,
        """SELECT count(*),
                  count(*) FILTER (WHERE outcome IS NULL),
                  count(*) FILTER (WHERE outcome = 'promoted'),
                  count(*) FILTER (WHERE outcome = 'duplicate'),
                  count(*) FILTER (WHERE outcome = 'failed')
           FROM postings_staging WHERE workflow_run_id = %s""",
        (run_id,),
    )
    return dict(zip(("staged", "pending", "promoted", "duplicate", "failed"), row, strict=True))


def posting_keys(url: str) -> dict[str, int]:
    return dict(fetch_all(url, "SELECT external_job_id, posting_id FROM postings"))


# -- the postings rules, written again in Python ---------------------------
#
# An independent statement of the postings rules (sql/specs/10_postings.sql):
# errors in the spec's field order (job_id, source_website, title,
# description, company_name, location), or raw_data alone for a non-object;
# text is trimmed of Unicode White_Space and U+FEFF; lengths count characters.

WHITESPACE = (
    " \t\n\r\f\v\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def trim(value: str) -> str:
    return value.strip(WHITESPACE)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def number_text(value: int | float) -> str:
    """How PostgreSQL prints a JSON number that Python's json module wrote."""
    if isinstance(value, int):
        return str(value)
    decimal = Decimal(json.dumps(value))
    scale = max(0, -decimal.as_tuple().exponent)
    text = f"{decimal:.{scale}f}"
    return text[1:] if text.startswith("-") and Decimal(text) == 0 else text


def _text_error(value: Any, required: bool, max_length: int) -> str | None:
    if value is None:
        return "missing" if required else None
    if not isinstance(value, str):
        return "wrong type"
    trimmed = trim(value)
    if trimmed == "":
        return "empty" if required else None
    if len(trimmed) > max_length:
        return "too long"
    return None


def _key_error(value: Any) -> str | None:
    if value is None:
        return "missing"
    if _json_type(value) == "number":
        text = number_text(value)
        if not re.fullmatch(r"-?[0-9]+", text):
            return "not an integer"
        return "too long" if len(text) > 200 else None
    if not isinstance(value, str):
        return "wrong type"
    trimmed = trim(value)
    if trimmed == "":
        return "empty"
    return "too long" if len(trimmed) > 200 else None


def expected_errors(document: Any) -> list[dict[str, str]]:
    if not isinstance(document, dict):
        return [{"field": "raw_data", "error": "not an object"}]
    checks = [
        ("job_id", _key_error(document.get("job_id"))),
        ("source_website", _text_error(document.get("source_website"), False, 200)),
        ("title", _text_error(document.get("title"), True, 500)),
        ("description", _text_error(document.get("description"), False, 2**31 - 1)),
        ("company_name", _text_error(document.get("company_name"), False, 500)),
        ("location", _text_error(document.get("location"), False, 2**31 - 1)),
    ]
    return [{"field": field, "error": error} for field, error in checks if error is not None]


def _text_value(value: Any) -> str | None:
    return (trim(value) or None) if isinstance(value, str) else None


def expected_key(document: dict[str, Any]) -> str:
    value = document["job_id"]
    return trim(value) if isinstance(value, str) else number_text(value)


def expected_posting(document: dict[str, Any]) -> dict[str, Any]:
    """The production values of a valid document."""
    return {
        "external_job_id": expected_key(document),
        "source_website": _text_value(document.get("source_website")) or "deutsche_bank",
        "job_title": _text_value(document.get("title")),
        "job_description": _text_value(document.get("description")),
        "company_name": _text_value(document.get("company_name")) or "Deutsche Bank",
        "location": _text_value(document.get("location")),
    }


def check_verdicts(
    rows: list[StagedRow], documents: list[Any], keys_before: dict[str, int]
) -> dict[str, int]:
    """Check every row's verdict against the oracle; return the outcome counts.

    ``rows`` and ``documents`` are in staging order, one promotion of one run;
    ``keys_before`` maps natural keys to postings that existed before it.
    """
    assert len(rows) == len(documents)
    seen: dict[str, int] = dict(keys_before)
    counts = {"promoted": 0, "duplicate": 0, "failed": 0}
    for row, document in zip(rows, documents, strict=True):
        errors = expected_errors(document)
        counts[row.outcome] += 1
        if errors:
            assert row.outcome == "failed", (document, row)
            assert row.validation_errors == errors, (document, row.validation_errors)
            assert row.promoted_to_id is None
            continue
        key = expected_key(document)
        assert row.validation_errors is None, (document, row)
        assert row.posting is not None and row.posting["external_job_id"] == key, (document, row)
        if key in seen:
            assert row.outcome == "duplicate", (document, row)
            assert row.promoted_to_id == seen[key]
        else:
            assert row.outcome == "promoted", (document, row)
            assert row.posting["created_by_staging_id"] == row.staging_id
            produced = {k: row.posting[k] for k in expected_posting(document)}
            assert produced == expected_posting(document), document
            seen[key] = row.promoted_to_id
    return counts


def allow_test_actors(url: str) -> None:
    """Give the tests' actors stage and patch on every staged table (after registering one)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sqlfiles.query("dev/allow_test_actors.sql"))
