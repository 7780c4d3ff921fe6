"""The design's fetcher and validator, transcribed from seed/staging-table-design.md.

These are the baselines pgstaging is measured against, so they are kept as
the design wrote them: same statements, same order, same connections and
commits. Their SQL stays inline, exactly as in the design's Python; it is
part of the transcription, not benchmark SQL (that lives in bench/*.sql).

Mechanical adaptations only:
- ``get_connection()`` is not defined by the design; the caller passes it in.
  The validator's ``check_duplicate`` closes what it gets, so a connection is
  a fresh one; ``promote_staging_record`` never closes its own, which CPython
  then closes when the function returns.
- stdin/stdout become arguments and return values; the fetcher's
  ``fetch_from_deutsche_bank()`` becomes the ``jobs`` argument.
- psycopg 3 instead of psycopg2. The design reads rows both by name
  (``row['raw_data']``) and by position (``fetchone()[0]``), which only
  psycopg2's DictCursor allows; ``dict_index_row`` behaves like it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import psycopg


class DictIndexRow(list):
    """A row readable by position and by column name, like psycopg2's DictRow."""

    def __init__(self, names: Sequence[str], values: Sequence[Any]):
        super().__init__(values)
        self._names = names

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            key = self._names.index(key)
        return super().__getitem__(key)


def dict_index_row(cursor: psycopg.Cursor) -> Callable[[Sequence[Any]], DictIndexRow]:
    names = [column.name for column in cursor.description or []]
    return lambda values: DictIndexRow(names, values)


# -- Step 1: the fetcher ("Script Actor (fetcher)") -------------------------


def save_to_staging(get_connection, job_data, workflow_run_id, actor_id):
    """Write fetcher output to staging table."""
    conn = get_connection()
    cursor = conn.cursor()

    cursor.execute(
        """
        INSERT INTO postings_staging (
            workflow_run_id,
            actor_id,
            raw_data
        ) VALUES (%s, %s, %s)
        RETURNING staging_id
    """,
        (workflow_run_id, actor_id, json.dumps(job_data)),
    )

    staging_id = cursor.fetchone()[0]
    conn.commit()
    return staging_id


def fetcher_main(get_connection, input_data, jobs):
    workflow_run_id = input_data["workflow_run_id"]
    actor_id = input_data["actor_id"]

    # Write each to staging
    staging_ids = []
    for job in jobs:
        sid = save_to_staging(get_connection, job, workflow_run_id, actor_id)
        staging_ids.append(sid)

    # Return success
    result = {"status": "SUCCESS", "staging_ids": staging_ids, "count": len(staging_ids)}
    return result


# -- Step 2: the validator ("Internal Actor", the validator group role) ----


def validate_record(raw_data):
    """
    Validate staging record against business rules.

    Returns: (is_valid, errors, normalized_data)
    """
    errors = []

    # Required fields
    if not raw_data.get("job_id"):
        errors.append({"field": "job_id", "error": "missing"})
    if not raw_data.get("title"):
        errors.append({"field": "title", "error": "missing"})

    # Field lengths
    if len(raw_data.get("title", "")) > 500:
        errors.append({"field": "title", "error": "too long"})

    # Normalize
    normalized = {
        "external_job_id": raw_data.get("job_id", "").strip(),
        "source_website": "deutsche_bank",
        "job_title": raw_data.get("title", "").strip(),
        "job_description": raw_data.get("description", "").strip(),
        "company_name": "Deutsche Bank",
        "location": raw_data.get("location", "").strip(),
    }

    return (len(errors) == 0, errors, normalized)


def check_duplicate(get_connection, external_job_id):
    """Check if posting already exists in production."""
    conn = get_connection()
    cursor = conn.cursor()

    cursor.execute(
        """
        SELECT posting_id FROM postings
        WHERE external_job_id = %s
    """,
        (external_job_id,),
    )

    row = cursor.fetchone()
    cursor.close()
    conn.close()

    return row["posting_id"] if row else None


def promote_staging_record(get_connection, staging_id):
    """
    Validate and promote one staging record to production.

    Returns: (success, posting_id, errors)
    """
    conn = get_connection()
    cursor = conn.cursor()

    # Get staging record
    cursor.execute(
        """
        SELECT raw_data, workflow_run_id, actor_id
        FROM postings_staging
        WHERE staging_id = %s
          AND promoted = FALSE
    """,
        (staging_id,),
    )

    row = cursor.fetchone()
    if not row:
        return (False, None, ["Staging record not found or already promoted"])

    raw_data = row["raw_data"]

    # Validate
    is_valid, errors, normalized = validate_record(raw_data)

    if not is_valid:
        # Mark as validated (failed)
        cursor.execute(
            """
            UPDATE postings_staging
            SET validated = TRUE,
                validation_errors = %s
            WHERE staging_id = %s
        """,
            (json.dumps(errors), staging_id),
        )
        conn.commit()
        return (False, None, errors)

    # Check duplicate
    existing_id = check_duplicate(get_connection, normalized["external_job_id"])
    if existing_id:
        # Mark as promoted (to existing record)
        cursor.execute(
            """
            UPDATE postings_staging
            SET validated = TRUE,
                promoted = TRUE,
                promoted_to_id = %s,
                promoted_at = NOW()
            WHERE staging_id = %s
        """,
            (existing_id, staging_id),
        )
        conn.commit()
        return (True, existing_id, ["Duplicate - linked to existing posting"])

    # Promote to production
    try:
        cursor.execute(
            """
            INSERT INTO postings (
                external_job_id,
                source_website,
                job_title,
                job_description,
                company_name,
                location,
                created_by_staging_id
            ) VALUES (%s, %s, %s, %s, %s, %s, %s)
            RETURNING posting_id
        """,
            (
                normalized["external_job_id"],
                normalized["source_website"],
                normalized["job_title"],
                normalized["job_description"],
                normalized["company_name"],
                normalized["location"],
                staging_id,
            ),
        )

        posting_id = cursor.fetchone()[0]

        # Mark staging as promoted
        cursor.execute(
            """
            UPDATE postings_staging
            SET validated = TRUE,
                promoted = TRUE,
                promoted_to_id = %s,
                promoted_at = NOW()
            WHERE staging_id = %s
        """,
            (posting_id, staging_id),
        )

        conn.commit()
        return (True, posting_id, [])

    except Exception as e:
        conn.rollback()
        # Mark as validated (failed)
        cursor.execute(
            """
            UPDATE postings_staging
            SET validated = TRUE,
                validation_errors = %s
            WHERE staging_id = %s
        """,
            (json.dumps([{"error": str(e)}]), staging_id),
        )
        conn.commit()
        return (False, None, [str(e)])


def validator_main(get_connection, input_data):
    """Process all unpromoted staging records."""
    workflow_run_id = input_data.get("workflow_run_id")

    conn = get_connection()
    cursor = conn.cursor()

    # Get all unpromoted staging records for this workflow
    cursor.execute(
        """
        SELECT staging_id
        FROM postings_staging
        WHERE workflow_run_id = %s
          AND promoted = FALSE
        ORDER BY staging_id
    """,
        (workflow_run_id,),
    )

    staging_ids = [row["staging_id"] for row in cursor.fetchall()]

    # Promote each
    results = {"promoted": [], "duplicates": [], "failed": []}

    for staging_id in staging_ids:
        success, posting_id, errors = promote_staging_record(get_connection, staging_id)

        if success:
            if "Duplicate" in str(errors):
                results["duplicates"].append({"staging_id": staging_id, "posting_id": posting_id})
            else:
                results["promoted"].append({"staging_id": staging_id, "posting_id": posting_id})
        else:
            results["failed"].append({"staging_id": staging_id, "errors": errors})

    # Return summary
    result = {
        "status": "SUCCESS",
        "promoted_count": len(results["promoted"]),
        "duplicate_count": len(results["duplicates"]),
        "failed_count": len(results["failed"]),
        "details": results,
    }

    return result
