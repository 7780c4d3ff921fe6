"""Hostile input for the other staged tables: profile_skills, job_skills,
skill_aliases, and companies (examples/specs/companies.sql, installed with
``install(url, specs=[...])``). Postings has its own fuzz in
test_hostile_inputs.py.

Hypothesis generates arbitrary JSON (every JSON type, deep nesting, huge
strings, control characters, every Unicode plane but U+0000, which jsonb
refuses, numbers beyond int64 and beyond double, spelled as JSON allows, and
the strings "NaN" and "Infinity") and mostly valid documents with arbitrary
field values. Documents are staged as raw JSON text by the script login,
many per example, and promoted by the validator login. The property:

- promotion raises nothing, and a second call on the run changes nothing;
- every document ends promoted, duplicate, updated or failed: nothing pending;
- a failed row has a non-empty list of reasons, each naming a field and an
  error, and points nowhere; a non-object fails with exactly ``raw_data: not
  an object``;
- a promoted row created its production row, an updated row last updated
  it, a duplicate points at an existing one;
- the ledger holds: the summary's counts, the database's counts and
  ``status(run)`` agree, and add up to the number staged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pgstaging import StagingClient, install
from psycopg import sql
from support import allow_test_actors

EXAMPLE_SPEC = Path(__file__).resolve().parents[2] / "examples" / "specs" / "companies.sql"
ID_COLUMNS = {
    "profile_skills": "profile_skill_id",
    "job_skills": "job_skill_id",
    "skill_aliases": "skill_alias_id",
    "companies": "company_id",
}
SEED_POSTINGS = ["P-1", "P-2", "  P-3", "42"]


# -- raw JSON text ------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """JSON text written as is: number spellings Python cannot produce, deep nesting."""

    text: str


def dump(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{dump(k)}: {dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def nested(inner: Any, depth: int, as_object: bool) -> Raw:
    opening, closing = ('{"k": ', "}") if as_object else ("[", "]")
    return Raw(opening * depth + dump(inner) + closing * depth)


# -- strategies -----------------------------------------------------------------

CONTROL = [chr(c) for c in [*range(1, 32), *range(0x7F, 0xA0)]] + [
    "\u200b",
    "\u200e",
    "\u202e",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\ufffe",
    "\uffff",
]
# Any plane, 0 to 16 (surrogates are not characters; U+0000 is refused by jsonb).
ANY_PLANE = st.integers(1, 0x10FFFF).filter(lambda c: not 0xD800 <= c <= 0xDFFF).map(chr)
CHARS = (
    st.characters(codec="utf-8", exclude_characters="\x00") | ANY_PLANE | st.sampled_from(CONTROL)
)
TEXT = st.text(CHARS, max_size=30)
HUGE = st.builds(
    lambda c, n: c * n,
    st.sampled_from(["a", "é", "日", "😀", "\x01", " ", "\U0010fffd"]),
    st.integers(5_000, 120_000),
)
SPECIAL = st.sampled_from(
    [
        "NaN",
        "Infinity",
        "-Infinity",
        "nan",
        "inf",
        "1e400",
        "-0",
        "0x10",
        "1_000",
        " 12 ",
        "12.0",
        "1.5",
        "true",
        "false",
        "yes",
        "null",
        "",
        " ",
        "\u3000",
        "\t\n",
        "2023-02-30",
        "2023-01-01",
        "1599-12-31",
        "0001-01-01 BC",
        "infinity",
        "yesterday",
        "2024-05-01T12:00:00Z",
        "2024-13-01T00:00:00",
        "epoch",
        "now",
        "'; DROP TABLE companies; --",
        "%s",
        "{}",
        "[]",
    ]
)
RAW_NUMBERS = st.sampled_from(
    [
        "1e400",
        "-1e400",
        "1E-400",
        "-0",
        "0.0",
        "-0.0",
        "1.0",
        "1e2",
        "1E+2",
        "5e-324",
        "12345678901234567890123456789012345678901234567890.5",
        "2147483648",
        "-2147483649",
        "9223372036854775808",
        "-9223372036854775809",
        "1" + "0" * 400,
    ]
).map(Raw)
NUMBERS = (
    st.integers()
    | st.integers(-(10**40), 10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**63) - 1])
    | RAW_NUMBERS
)
LEAVES = st.none() | st.booleans() | NUMBERS | TEXT | SPECIAL
JSON = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
DEEP = st.builds(nested, LEAVES, st.integers(20, 900), st.booleans())
# Huge strings are costly to send: one branch in eight.
ANY_VALUE = st.one_of(JSON, JSON, JSON, JSON, DEEP, DEEP, SPECIAL, HUGE)


def near(limit: int) -> st.SearchStrategy[str]:
    return st.builds(
        lambda c, n: c * n,
        st.sampled_from(["a", "é", "日", "😀"]),
        st.sampled_from([limit - 1, limit, limit + 1]),
    )


def padded(values: list[str]) -> st.SearchStrategy[str]:
    pads = st.sampled_from(["", " ", "  ", "\t", "\u3000", "\u00a0", "\n"])
    return st.builds(lambda a, v, b: a + v + b, pads, st.sampled_from(values), pads)


SKILLS = padded(
    [
        "Python",
        "python",
        "PYTHON",
        "SQL",
        "Machine   Learning",
        "machine learning",
        "C++",
        "Go",
        "Ünïcödé",
        "日本語",
        "😀",
    ]
)
INTEGERS = (
    st.integers(-3, 60)
    | st.sampled_from([" 12 ", "7", "1.0", "1.5", "abc", "", 2**31, -(2**31) - 1, 10**30])
    | RAW_NUMBERS
)


def mostly(value: st.SearchStrategy, *others: st.SearchStrategy) -> st.SearchStrategy:
    """Usually a plausible value, sometimes anything at all."""
    plausible = value
    for other in others:
        plausible = plausible | other
    return st.one_of(plausible, plausible, plausible, plausible, ANY_VALUE)


def document(required: dict, optional: dict) -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {k: mostly(v) for k, v in required.items()},
        optional={**{k: mostly(v) for k, v in optional.items()}, "extra": JSON | DEEP},
    )


# Documents missing some fields, or with only some of them.
def partial(keys: list[str]) -> st.SearchStrategy:
    return st.dictionaries(st.sampled_from([*keys, "other", ""]), ANY_VALUE, max_size=len(keys))


MOSTLY_VALID = {
    "profile_skills": document(
        {"profile_id": INTEGERS, "skill": SKILLS | near(200)},
        {"proficiency": padded(["beginner", "Intermediate", "ADVANCED", "expert", "guru"])},
    )
    | partial(["profile_id", "skill", "proficiency"]),
    "job_skills": (
        document(
            {"posting_id": INTEGERS, "skill": SKILLS | near(200)},
            {"importance": padded(["required", "Preferred", "nice"])},
        )
        | document(
            {"job_id": padded([*SEED_POSTINGS, "P-404", "p-1"]) | INTEGERS, "skill": SKILLS},
            {"importance": padded(["required", "preferred"])},
        )
        | partial(["posting_id", "job_id", "skill", "importance"])
    ),
    "skill_aliases": document({"alias": SKILLS | near(200), "canonical": SKILLS | near(200)}, {})
    | partial(["alias", "canonical"]),
    "companies": document(
        {
            "registry": padded(
                ["DE12345", "de12345", "FR0000000001", "DE123", "D1234", "GB12345678901", "XX9999"]
            ),
            "name": padded(["Acme  GmbH", "Acme GmbH", "ÉLAN SA", "日本株式会社"]) | near(300),
        },
        {
            "employees": INTEGERS,
            "founded": padded(
                ["1600-01-01", "1599-12-31", "2020-02-29", "2021-02-29", "1900-01-01"]
            ),
            "listed": st.booleans() | padded(["true", "false", "yes", "no", "t", "0", "1"]),
            "revenue_eur": NUMBERS | padded(["12.50", "-1", "0", "1e3", "NaN", "Infinity"]),
            "last_seen_at": padded(
                [
                    "2024-05-01T12:00:00Z",
                    "2024-05-01 12:00:00+02",
                    "not a time",
                    "2024-02-30T00:00:00Z",
                ]
            ),
        },
    )
    | partial(
        ["registry", "name", "employees", "founded", "listed", "revenue_eur", "last_seen_at"]
    ),
}

# One document per table that must be promoted, and one that must fail: run
# first as an explicit example, so the check below never depends on luck.
KNOWN = {
    "profile_skills": {"profile_id": 7, "skill": "Python", "proficiency": "expert"},
    "job_skills": {"job_id": "P-1", "skill": "Python", "importance": "required"},
    "skill_aliases": {"alias": "py3", "canonical": "Python"},
    "companies": {"registry": "DE12345", "name": "Acme GmbH"},
}

SETTINGS = settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


# -- the property -----------------------------------------------------------------


def stage_raw(db, table: str, run_id: int, texts: list[str]) -> list[int]:
    """As the script login: one INSERT of raw JSON texts; ids in input order."""
    with db.connect("script_login") as conn:
        found = conn.execute(
            sql.SQL(
                "INSERT INTO {} (workflow_run_id, actor_id, raw_data) "
                "SELECT %s, (SELECT actor_id FROM actors WHERE actor_name = 'test_fetcher'), "
                "d.text::jsonb FROM unnest(%s::text[]) WITH ORDINALITY AS d (text, n) "
                "ORDER BY d.n RETURNING staging_id"
            ).format(sql.Identifier(f"{table}_staging")),
            (run_id, texts),
        ).fetchall()
    return sorted(row[0] for row in found)


def check_property(db, table: str, documents: list[Any]) -> None:
    texts = [dump(d) for d in documents]
    with db.client() as owner:
        run_id = owner.start_run()
    ids = stage_raw(db, table, run_id, texts)
    assert len(ids) == len(documents)

    with StagingClient.connect(db.url("validator_login"), retries=0) as validator:
        summary = validator.promote(table, run_id).as_json()
        again = validator.promote(table, run_id).as_json()
        (status,) = [s for s in validator.status(run_id) if s.table_name == table]

    id_column = sql.Identifier(ID_COLUMNS[table])
    with db.connect() as conn:
        verdicts = conn.execute(
            sql.SQL(
                "SELECT s.staging_id, jsonb_typeof(s.raw_data), s.outcome, s.validated, s.promoted,"
                " s.validation_errors, s.promoted_to_id, p.{id} IS NOT NULL,"
                " p.created_by_staging_id, p.updated_by_staging_id"
                " FROM {staging} AS s LEFT JOIN {production} AS p ON p.{id} = s.promoted_to_id"
                " WHERE s.workflow_run_id = %s ORDER BY s.staging_id"
            ).format(
                id=id_column,
                staging=sql.Identifier(f"{table}_staging"),
                production=sql.Identifier(table),
            ),
            (run_id,),
        ).fetchall()
    assert [v[0] for v in verdicts] == ids

    counts = {"promoted": 0, "duplicate": 0, "updated": 0, "failed": 0}
    for (
        staging_id,
        kind,
        outcome,
        validated,
        promoted,
        errors,
        to_id,
        exists,
        created,
        updated,
    ) in verdicts:
        row = (staging_id, texts[ids.index(staging_id)][:200], outcome, errors)
        assert outcome in counts, row
        counts[outcome] += 1
        assert validated, row
        if outcome == "failed":
            assert not promoted and to_id is None, row
            assert isinstance(errors, list) and errors, row
            for error in errors:
                assert set(error) == {"field", "error"}, row
                assert isinstance(error["field"], str) and error["field"].strip(), row
                assert isinstance(error["error"], str) and error["error"].strip(), row
            if kind != "object":
                assert errors == [{"field": "raw_data", "error": "not an object"}], row
            continue
        assert kind == "object" and promoted and errors is None and exists, row
        if outcome == "promoted":
            assert created == staging_id, row
        elif outcome == "updated":
            assert updated == staging_id, row

    # The ledger: the summary, the table and status(run) agree, nothing pending.
    assert sum(counts.values()) == len(documents)
    assert summary["promoted_count"] == counts["promoted"]
    assert summary["duplicate_count"] == counts["duplicate"]
    assert summary["failed_count"] == counts["failed"]
    assert summary.get("updated_count", 0) == counts["updated"]
    assert (
        status.staged,
        status.pending,
        status.promoted,
        status.duplicate,
        status.updated,
        status.failed,
        status.rolled_back,
    ) == (
        len(documents),
        0,
        counts["promoted"],
        counts["duplicate"],
        counts["updated"],
        counts["failed"],
        0,
    )
    assert again["promoted_count"] == again["duplicate_count"] == again["failed_count"] == 0
    assert again.get("updated_count", 0) == 0


def prepare(db, table: str) -> None:
    """Companies need the example spec; job skills need postings to reference."""
    if table == "companies":
        assert install(db.owner_url, specs=[EXAMPLE_SPEC]).changed
        allow_test_actors(db.owner_url)
    if table == "job_skills":
        with db.client() as owner:
            run_id = owner.start_run()
        with db.client("script_login") as script:
            seeds = [{"job_id": k, "title": "seed"} for k in SEED_POSTINGS]
            script.stage("postings", run_id, "test_fetcher", seeds)
        with db.client("validator_login") as validator:
            assert validator.promote("postings", run_id).promoted_count == len(SEED_POSTINGS)


@pytest.mark.parametrize("table", sorted(MOSTLY_VALID))
def test_property_arbitrary_json(db, table):
    prepare(db, table)
    tried = []

    @SETTINGS
    @given(
        documents=st.lists(ANY_VALUE | st.dictionaries(TEXT, ANY_VALUE), min_size=10, max_size=40)
    )
    def property_holds(documents):
        check_property(db, table, documents)
        tried.append(len(documents))

    property_holds()
    print(f"\nfuzz {table}, arbitrary JSON: {sum(tried)} documents in {len(tried)} examples")


@pytest.mark.parametrize("table", sorted(MOSTLY_VALID))
def test_property_mostly_valid_documents(db, table):
    prepare(db, table)
    with psycopg.connect(db.admin_url) as conn:
        posting_ids = [r[0] for r in conn.execute("SELECT posting_id FROM postings").fetchall()]
    documents = MOSTLY_VALID[table]
    if table == "job_skills":
        # Ids that exist, so that some job skills pass.
        documents = documents | document(
            {"posting_id": st.sampled_from(posting_ids), "skill": SKILLS}, {}
        )
    tried = []

    @SETTINGS
    @example(documents=[KNOWN[table], {}])
    @given(documents=st.lists(documents, min_size=10, max_size=50))
    def property_holds(documents):
        check_property(db, table, documents)
        tried.append(len(documents))

    property_holds()
    print(f"\nfuzz {table}, mostly valid: {sum(tried)} documents in {len(tried)} examples")
    with psycopg.connect(db.admin_url) as conn:
        (outcomes,) = conn.execute(
            sql.SQL("SELECT array_agg(DISTINCT outcome) FROM {}").format(
                sql.Identifier(f"{table}_staging")
            )
        ).fetchone()
    # Mostly valid documents do get promoted, not only failed: the test is not vacuous.
    assert {"promoted", "failed"} <= set(outcomes), outcomes
