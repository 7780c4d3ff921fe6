"""Hostile documents: every staged row ends promoted correctly or failed with a reason.

Each test stages as script_login, promotes as validator_login, and checks every
row against the rules' oracle in support.py, the summary against the rows, and
the ledger (nothing pending, nothing lost).
"""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pgstaging import PgStagingError
from support import (
    WHITESPACE,
    check_verdicts,
    fetch_all,
    ledger,
    posting_keys,
    staged_rows,
)


def judge(db, script, validator, run_id, actor_id, documents):
    """Stage, promote, check every verdict; return the rows in input order."""
    keys_before = posting_keys(db.admin_url)
    ids = script.stage("postings", run_id, actor_id, documents)
    summary = validator.promote("postings", run_id)

    rows = staged_rows(db.admin_url, ids)
    assert [r.staging_id for r in rows] == ids
    counts = check_verdicts(rows, documents, keys_before)
    assert ledger(db.admin_url, run_id) == {"staged": len(documents), "pending": 0, **counts}
    assert (summary.promoted_count, summary.duplicate_count, summary.failed_count) == (
        counts["promoted"],
        counts["duplicate"],
        counts["failed"],
    )
    assert summary.promoted == [
        {"staging_id": r.staging_id, "posting_id": r.promoted_to_id}
        for r in rows
        if r.outcome == "promoted"
    ]
    assert summary.duplicates == [
        {"staging_id": r.staging_id, "posting_id": r.promoted_to_id}
        for r in rows
        if r.outcome == "duplicate"
    ]
    assert summary.failed == [
        {"staging_id": r.staging_id, "errors": r.validation_errors}
        for r in rows
        if r.outcome == "failed"
    ]
    return rows


def errors_of(row) -> list[tuple[str, str]]:
    return [(e["field"], e["error"]) for e in row.validation_errors or []]


# -- not an object ----------------------------------------------------------


def test_non_object_documents_fail_as_not_an_object(db, script, validator, run_id, actor_id):
    documents = [
        [],
        [1, 2],
        [{"job_id": "A", "title": "t"}],
        "",
        "a string",
        0,
        42,
        -1.5,
        10**40,
        True,
        False,
        None,
    ]

    rows = judge(db, script, validator, run_id, actor_id, documents)

    for row, document in zip(rows, documents, strict=True):
        assert row.raw_data == document
        assert row.outcome == "failed"
        assert errors_of(row) == [("raw_data", "not an object")]


# -- wrong types, field by field --------------------------------------------

BAD_TYPES = [True, False, 0, 7, -1.25, [], ["x"], {}, {"value": "x"}]


@pytest.mark.parametrize(
    "field", ["job_id", "title", "description", "location", "source_website", "company_name"]
)
def test_wrong_types_for_each_field(db, script, validator, run_id, actor_id, field):
    base = {"title": "A title", "description": "d", "location": "l"}
    documents = [
        {**base, "job_id": f"WT-{field}-{n}", field: bad} for n, bad in enumerate(BAD_TYPES)
    ]
    # A JSON null is "missing" for the required fields, and absent for the others.
    documents.append({**base, "job_id": f"WT-{field}-null", field: None})

    rows = judge(db, script, validator, run_id, actor_id, documents)

    for row, bad in zip(rows[:-1], BAD_TYPES, strict=True):
        if field == "job_id" and isinstance(bad, int) and not isinstance(bad, bool):
            assert row.outcome == "promoted" and row.posting["external_job_id"] == str(bad)
        elif field == "job_id" and isinstance(bad, float):
            assert errors_of(row) == [("job_id", "not an integer")]
        else:
            assert errors_of(row) == [(field, "wrong type")], bad
    null_row = rows[-1]
    if field in ("job_id", "title"):
        assert errors_of(null_row) == [(field, "missing")]
    else:
        assert null_row.outcome == "promoted"


def test_every_field_wrong_at_once_reports_every_field_in_order(
    db, script, validator, run_id, actor_id
):
    document = {
        "job_id": [],
        "title": 5,
        "description": True,
        "location": {},
        "source_website": 1.5,
        "company_name": ["Acme"],
        "extra": "ignored",
    }

    (row,) = judge(db, script, validator, run_id, actor_id, [document])

    # In the spec's field order.
    assert errors_of(row) == [
        (f, "wrong type")
        for f in ("job_id", "source_website", "title", "description", "company_name", "location")
    ]


# -- sizes ------------------------------------------------------------------


def test_one_megabyte_descriptions_are_promoted_intact(db, script, validator, run_id, actor_id):
    ascii_mb = ("All work and no play. " * 50_000)[: 1 << 20].strip() + "!"
    mixed_mb = ("Zürich 日本 😀 \u2010 " * 80_000)[: 1 << 20] + "."
    documents = [
        {"job_id": "MB-1", "title": "Big", "description": ascii_mb},
        {"job_id": "MB-2", "title": "Bigger", "description": mixed_mb, "location": mixed_mb},
        {"job_id": "MB-3", "title": ascii_mb},  # a 1 MB title is too long, not truncated
        {"job_id": ascii_mb, "title": "t"},
    ]

    rows = judge(db, script, validator, run_id, actor_id, documents)

    assert rows[0].posting["job_description"] == ascii_mb
    assert rows[1].posting["job_description"] == mixed_mb == rows[1].posting["location"]
    assert len(mixed_mb) == (1 << 20) + 1
    assert errors_of(rows[2]) == [("title", "too long")]
    assert errors_of(rows[3]) == [("job_id", "too long")]


@pytest.mark.parametrize("char", ["x", "é", "日", "😀", "\u0301"])
def test_title_length_counts_characters(db, script, validator, run_id, actor_id, char):
    documents = [
        {"job_id": "LEN-500", "title": char * 500},
        {"job_id": "LEN-501", "title": char * 501},
        # Surrounding whitespace is trimmed before counting.
        {"job_id": "LEN-PAD", "title": " \u3000\t" + char * 500 + "\u00a0\n"},
        {"job_id": "LEN-1", "title": "a" + char * 499 + "b"},
    ]

    rows = judge(db, script, validator, run_id, actor_id, documents)

    assert rows[0].outcome == "promoted" and rows[0].posting["job_title"] == char * 500
    assert errors_of(rows[1]) == [("title", "too long")]
    assert rows[2].outcome == "promoted" and rows[2].posting["job_title"] == char * 500
    assert errors_of(rows[3]) == [("title", "too long")]


def test_other_length_limits(db, script, validator, run_id, actor_id):
    documents = [
        {"job_id": "日" * 200, "title": "t"},
        {"job_id": "日" * 201, "title": "t"},
        {"job_id": "SW-200", "title": "t", "source_website": "w" * 200},
        {"job_id": "SW-201", "title": "t", "source_website": "w" * 201},
        {"job_id": "CN-500", "title": "t", "company_name": "é" * 500},
        {"job_id": "CN-501", "title": "t", "company_name": "é" * 501},
    ]

    rows = judge(db, script, validator, run_id, actor_id, documents)

    assert [r.outcome for r in rows] == ["promoted", "failed"] * 3
    assert [errors_of(r) for r in rows[1::2]] == [
        [("job_id", "too long")],
        [("source_website", "too long")],
        [("company_name", "too long")],
    ]


# -- injection, whitespace, control characters -------------------------------

INJECTIONS = [
    "Robert'); DROP TABLE postings;--",
    "' OR '1'='1",
    "$$; DELETE FROM postings; $$",
    "$function$ RAISE EXCEPTION 'x'; $function$",
    "%s %(job_id)s {staging_table} {} %%",
    "\\'; SELECT pg_sleep(10); --",
    "E'\\x00' || chr(0)",
    '}{"job_id": "forged"}',
    "<script>alert(1)</script>",
    "'; UPDATE postings_staging SET validated = true; --",
    "\u02bc; DROP TABLE postings; --",
]


def test_sql_injection_strings_are_stored_verbatim(db, script, validator, run_id, actor_id):
    documents = [
        {
            "job_id": text,
            "title": text,
            "description": text,
            "location": text,
            "source_website": text[:200],
            "company_name": text,
        }
        for text in INJECTIONS
    ]

    rows = judge(db, script, validator, run_id, actor_id, documents)

    for row, text in zip(rows, INJECTIONS, strict=True):
        assert row.outcome == "promoted"
        posting = row.posting
        assert (
            posting["external_job_id"],
            posting["job_title"],
            posting["job_description"],
            posting["location"],
            posting["company_name"],
        ) == (text,) * 5
    assert fetch_all(db.admin_url, "SELECT count(*) FROM postings") == [(len(INJECTIONS),)]
    assert ledger(db.admin_url, run_id)["staged"] == len(INJECTIONS)


WHITESPACE_ONLY = [
    " ",
    "\t\n\r\f\v",
    "\u00a0",
    "\u3000",
    "\u2003\u2009\u200a",
    "\ufeff",
    "\u0085",
    "\u1680",
    "\u2028\u2029",
    "\u202f\u205f",
    WHITESPACE,
]


@pytest.mark.parametrize(
    "blank", WHITESPACE_ONLY, ids=lambda s: "+".join(f"{ord(c):04X}" for c in s[:4])
)
def test_whitespace_only_values(db, script, validator, run_id, actor_id, blank):
    documents = [
        {"job_id": blank, "title": "t"},
        {"job_id": "WS-title", "title": blank},
        {
            "job_id": "WS-optional",
            "title": f"{blank}Engineer{blank}",
            "description": blank,
            "location": blank,
            "source_website": blank,
            "company_name": blank,
        },
        {"job_id": f"{blank}WS-padded{blank}", "title": "t", "location": f"{blank}Köln{blank}"},
    ]

    rows = judge(db, script, validator, run_id, actor_id, documents)

    assert errors_of(rows[0]) == [("job_id", "empty")]
    assert errors_of(rows[1]) == [("title", "empty")]
    optional = rows[2].posting
    assert (
        optional["job_title"],
        optional["job_description"],
        optional["location"],
        optional["source_website"],
        optional["company_name"],
    ) == (
        "Engineer",
        None,
        None,
        "deutsche_bank",
        "Deutsche Bank",
    )
    assert (rows[3].posting["external_job_id"], rows[3].posting["location"]) == (
        "WS-padded",
        "Köln",
    )


def test_only_whitespace_is_trimmed_never_letters(db, script, validator, run_id, actor_id):
    # Regression: the trim set once held "v" (E'\v' is not an escape in PostgreSQL).
    documents = [
        {
            "job_id": "v1v",
            "title": "vivid dev",
            "location": "Kiev",
            "company_name": "Vv",
            "source_website": "tv",
            "description": "\vtabs v\v",
        },
        {"job_id": "vvv", "title": "\v"},
    ]

    rows = judge(db, script, validator, run_id, actor_id, documents)

    posting = rows[0].posting
    assert (
        posting["external_job_id"],
        posting["job_title"],
        posting["location"],
        posting["company_name"],
        posting["source_website"],
        posting["job_description"],
    ) == (
        "v1v",
        "vivid dev",
        "Kiev",
        "Vv",
        "tv",
        "tabs v",
    )
    assert errors_of(rows[1]) == [("title", "empty")]


def test_whitespace_inside_values_is_kept(db, script, validator, run_id, actor_id):
    title = "Senior\u00a0Data\u3000Engineer\n(m/w/d)\t"
    (row,) = judge(db, script, validator, run_id, actor_id, [{"job_id": "IN-1", "title": title}])
    assert row.posting["job_title"] == "Senior\u00a0Data\u3000Engineer\n(m/w/d)"


def test_control_characters_are_kept_verbatim(db, script, validator, run_id, actor_id):
    controls = "".join(chr(c) for c in range(1, 32) if chr(c) not in WHITESPACE) + "\x7f\x9f"
    documents = [
        {"job_id": "CC-1", "title": f"a{controls}b", "description": controls},
        {"job_id": f"CC{controls}2", "title": "\x1b[31mred\x1b[0m"},
        {"job_id": "CC-3", "title": "\u202eevil\u202c \u200b"},
    ]

    rows = judge(db, script, validator, run_id, actor_id, documents)

    assert rows[0].posting["job_title"] == f"a{controls}b"
    assert rows[0].posting["job_description"] == controls
    assert rows[1].posting["external_job_id"] == f"CC{controls}2"
    assert rows[1].posting["job_title"] == "\x1b[31mred\x1b[0m"
    assert rows[2].posting["job_title"] == "\u202eevil\u202c \u200b"


def test_nul_character_cannot_be_staged_and_the_batch_stages_nothing(db, script, run_id, actor_id):
    documents = [{"job_id": "NUL-0", "title": "fine"}, {"job_id": "NUL-1", "title": "a\x00b"}]

    with pytest.raises(PgStagingError) as caught:
        script.stage("postings", run_id, actor_id, documents)

    assert "22P05" in str(caught.value)
    assert ledger(db.admin_url, run_id)["staged"] == 0
    # The connection is usable afterwards.
    assert len(script.stage("postings", run_id, actor_id, documents[:1])) == 1


# -- nesting and numbers ----------------------------------------------------


def nested(depth: int, leaf="deep"):
    value = leaf
    for n in range(depth):
        value = [value] if n % 2 else {"k": value}
    return value


def test_deep_nesting(db, script, validator, run_id, actor_id):
    documents = [
        {"job_id": "DEEP-1", "title": "t", "description": nested(400)},
        {"job_id": "DEEP-2", "title": "t", "extra": nested(400)},
        {"job_id": nested(400), "title": nested(400)},
        [nested(400)],
    ]

    rows = judge(db, script, validator, run_id, actor_id, documents)

    assert errors_of(rows[0]) == [("description", "wrong type")]
    assert rows[1].outcome == "promoted" and rows[1].raw_data == documents[1]
    assert errors_of(rows[2]) == [("job_id", "wrong type"), ("title", "wrong type")]
    assert errors_of(rows[3]) == [("raw_data", "not an object")]


def test_nesting_deeper_than_python_through_raw_sql(db, validator, run_id):
    deep = "[" * 5000 + "]" * 5000
    with db.connect("script_login") as conn:
        (staging_id,) = conn.execute(
            "INSERT INTO postings_staging (workflow_run_id, actor_id, raw_data) VALUES "
            "(%s, (SELECT actor_id FROM actors WHERE actor_name = 'test_fetcher'), %s::jsonb) "
            "RETURNING staging_id",
            (run_id, '{"job_id": "DEEP-SQL", "title": "t", "x": ' + deep + "}"),
        ).fetchone()
        conn.commit()
        # Deeper than the server's stack allows: refused at INSERT, never half-stored.
        with pytest.raises(psycopg.Error):
            conn.execute(
                "INSERT INTO postings_staging (workflow_run_id, raw_data) VALUES (%s, %s::jsonb)",
                (run_id, "[" * 200_000 + "]" * 200_000),
            )
        conn.rollback()

    result = validator.promote("postings", run_id)

    assert result.promoted == [
        {"staging_id": staging_id, "posting_id": result.promoted[0]["posting_id"]}
    ]
    assert ledger(db.admin_url, run_id) == {
        "staged": 1,
        "pending": 0,
        "promoted": 1,
        "duplicate": 0,
        "failed": 0,
    }


def test_numbers_as_job_id(db, script, validator, run_id, actor_id):
    documents = [
        {"job_id": 2**63, "title": "beyond int64"},
        {"job_id": -(2**80), "title": "negative and huge"},
        {"job_id": 10**199, "title": "200 digits"},
        {"job_id": 10**200, "title": "201 digits"},
        {"job_id": 1.5, "title": "fraction"},
        {"job_id": 2.0, "title": "float that is whole"},
        {"job_id": 0, "title": "zero"},
        {"job_id": "9223372036854775808", "title": "same key as a string"},
        {"job_id": " 0 ", "title": "zero again, padded"},
    ]

    rows = judge(db, script, validator, run_id, actor_id, documents)

    assert rows[0].posting["external_job_id"] == "9223372036854775808"
    assert rows[1].posting["external_job_id"] == str(-(2**80))
    assert rows[2].posting["external_job_id"] == "1" + "0" * 199
    assert errors_of(rows[3]) == [("job_id", "too long")]
    assert errors_of(rows[4]) == [("job_id", "not an integer")]
    assert errors_of(rows[5]) == [("job_id", "not an integer")]
    assert rows[6].outcome == "promoted"
    assert (rows[7].outcome, rows[7].promoted_to_id) == ("duplicate", rows[0].promoted_to_id)
    assert (rows[8].outcome, rows[8].promoted_to_id) == ("duplicate", rows[6].promoted_to_id)


def test_json_number_spellings_through_raw_sql(db, validator, run_id):
    # What a script writing SQL itself may send: PostgreSQL's numeric decides.
    spellings = {"1e3": "1000", "-0": "0", "1E+2": "100", "12.50e1": None, "1.0": None}
    with db.connect("script_login") as conn:
        ids = [
            conn.execute(
                "INSERT INTO postings_staging (workflow_run_id, actor_id, raw_data) VALUES "
                "(%s, (SELECT actor_id FROM actors WHERE actor_name = 'test_fetcher'), %s::jsonb) "
                "RETURNING staging_id",
                (run_id, f'{{"job_id": {spelling}, "title": "t"}}'),
            ).fetchone()[0]
            for spelling in spellings
        ]
        conn.commit()

    validator.promote("postings", run_id)

    rows = staged_rows(db.admin_url, ids)
    assert [r.posting and r.posting["external_job_id"] for r in rows] == list(spellings.values())
    assert [errors_of(r) for r in rows if r.outcome == "failed"] == [
        [("job_id", "not an integer")]
    ] * 2


# -- properties ---------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
SPACES = st.text(st.sampled_from(WHITESPACE), max_size=4)
PADDED = st.builds(lambda a, b, c: a + b + c, SPACES, TEXT, SPACES)
NEAR_LIMITS = st.builds(
    lambda c, n: c * n,
    st.sampled_from(["a", "é", "日", "😀"]),
    st.sampled_from([199, 200, 201, 499, 500, 501]),
)
NUMBERS = (
    st.integers()
    | st.integers(min_value=-(10**250), max_value=10**250)
    | st.floats(allow_nan=False, allow_infinity=False)
)
LEAVES = st.none() | st.booleans() | NUMBERS | TEXT
JSON = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
FIELD = PADDED | TEXT | SPACES | NEAR_LIMITS | JSON
KEYS = (
    st.sampled_from(["K-1", " K-1", "K-1\u3000", "K-2", "7", "k-1"])
    | st.integers(min_value=-3, max_value=9)
    | PADDED
    | JSON
)
POSTING = st.fixed_dictionaries(
    {"job_id": KEYS, "title": FIELD},
    optional={
        "description": FIELD,
        "location": FIELD,
        "source_website": FIELD,
        "company_name": FIELD,
        "extra": JSON,
    },
)
# Documents that lack a field, or hold only some of them.
PARTIAL = st.dictionaries(
    st.sampled_from(
        ["job_id", "title", "description", "location", "source_website", "company_name", "other"]
    ),
    FIELD,
)

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@PROPERTY_SETTINGS
@given(documents=st.lists(JSON, min_size=1, max_size=50))
def test_property_arbitrary_json_documents(db, owner, script, validator, actor_id, documents):
    run_id = owner.start_run()
    judge(db, script, validator, run_id, actor_id, documents)


@PROPERTY_SETTINGS
@given(documents=st.lists(POSTING | PARTIAL, min_size=1, max_size=50))
def test_property_mostly_valid_postings(db, owner, script, validator, actor_id, documents):
    run_id = owner.start_run()
    judge(db, script, validator, run_id, actor_id, documents)
