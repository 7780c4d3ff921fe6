"""A JSON Schema spec and its native twin give identical verdicts.

The twin is written by hand with the native options that mean what the JSON
Schema keywords mean ("convert": false, "nullable", "allow_empty",
"exclusive_min", ...). Hypothesis generates documents (every JSON type per
key, absent keys, strings that look like numbers, dates and booleans,
integral floats, numbers beyond int64); each is staged into both tables and
promoted. Per document: the same outcome, the same errors, the same
production values. And the generated statements are the same text: a JSON
Schema spec compiles to the native statements, there is no second engine.

The standard's verdict is checked too: the jsonschema package (Draft
2020-12, with its format checker) is the oracle, valid <=> not failed. The
schema uses no x-pgstaging normalizer, which would change values before the
keywords see them. The oracle is not asked about leap seconds
("...T23:59:60Z"): the official suite calls them valid, as pgstaging does,
and rfc3339-validator refuses them.
"""

from __future__ import annotations

import psycopg
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from psycopg.types.json import Jsonb

JSON_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://example.com/order.json",
    "title": "order",
    "type": "object",
    "required": ["code", "qty"],
    "properties": {
        "code": {
            "type": "string",
            "minLength": 2,
            "maxLength": 8,
            "pattern": "^[A-Z]",
        },
        "qty": {"type": "integer", "minimum": 0, "exclusiveMaximum": 1000},
        "price": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 1e6},
        "tier": {"type": "string", "enum": ["gold", "silver", 7]},
        "flag": {"type": "boolean", "default": False, "description": "annotation only"},
        "day": {"type": "string", "format": "date"},
        "at": {"type": ["null", "string"], "format": "date-time"},
        "note": {"type": "string", "maxLength": 3, "x-pgstaging": {"column": "remark"}},
    },
}
STRICT = {"convert": False, "allow_empty": True, "normalize": []}
# In jsonb key order (shorter keys first), the order the compiler reads properties.
NATIVE_FIELDS = [
    {"column": "at", "type": "timestamptz", **STRICT, "nullable": True},
    {"column": "day", "type": "date", **STRICT, "nullable": False},
    {
        "column": "qty",
        "type": "bigint",
        "required": True,
        **STRICT,
        "min": 0,
        "exclusive_max": 1000,
        "nullable": False,
    },
    {
        "column": "code",
        "type": "text",
        "required": True,
        **STRICT,
        "min_length": 2,
        "max_length": 8,
        "pattern": "^[A-Z]",
        "nullable": False,
    },
    {"column": "flag", "type": "boolean", **STRICT, "default": False, "nullable": False},
    {
        "column": "remark",
        "source": "note",
        "type": "text",
        **STRICT,
        "max_length": 3,
        "nullable": False,
    },
    {"column": "tier", "type": "text", **STRICT, "one_of": ["gold", "silver"], "nullable": False},
    {
        "column": "price",
        "type": "numeric",
        **STRICT,
        "exclusive_min": 0,
        "max": 1e6,
        "nullable": True,
    },
]
KEYS = ["code", "qty", "price", "tier", "flag", "day", "at", "note"]

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1.0, 0.0, -0.0, 999.0, 1000.0, 2.5, 1e6, 1e-7]),
    st.text(max_size=10).filter(lambda s: "\x00" not in s),
    st.sampled_from(
        [
            "AB",
            " AB ",
            "A",
            "ABCDEFGHI",
            "ab",
            "",
            " ",
            "12",
            "1.0",
            "true",
            "gold",
            "silver",
            "7",
            "2024-02-29",
            "2023-02-29",
            " 2024-01-01",
            "2024-01-01T10:00:00Z",
            "2024-01-01 10:00:00Z",
            "1998-12-31T23:59:60Z",
            "abc",
            "日本語",
        ]
    ),
)
VALUES = SCALARS | st.lists(SCALARS, max_size=2) | st.dictionaries(st.just("x"), SCALARS)
DOCUMENT = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=len(KEYS))


ORACLE = Draft202012Validator(JSON_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


def leap_second(document: dict) -> bool:
    return isinstance(document.get("at"), str) and ":60" in document["at"]


def spec(table: str, **fields) -> dict:
    return {"table": table, "id_column": f"{table}_id", "natural_key": ["code"], **fields}


def judge(conn: psycopg.Connection, table: str, run: int, documents: list) -> list:
    ids = [
        conn.execute(
            f"INSERT INTO {table}_staging (workflow_run_id, raw_data)"
            " VALUES (%s, %s) RETURNING staging_id",
            [run, Jsonb(d)],
        ).fetchone()[0]
        for d in documents
    ]
    conn.execute(f"SELECT promote_{table}_staging(%s)", [run])
    return conn.execute(
        f"SELECT s.outcome, s.validation_errors, to_jsonb(p) - '{table}_id'"
        " - 'created_by_staging_id' - 'created_at' - 'created_by_interaction_id'"
        f" FROM unnest(%s::bigint[]) WITH ORDINALITY AS i (id, n)"
        f" JOIN {table}_staging AS s ON s.staging_id = i.id"
        f" LEFT JOIN {table} AS p ON p.{table}_id = s.promoted_to_id ORDER BY i.n",
        [ids],
    ).fetchall()


def test_json_schema_and_native_twin_agree(db):
    with db.connect() as conn:
        conn.autocommit = True
        conn.execute(
            "SELECT pgstaging.register_staged_table(%s)",
            [Jsonb(spec("orders_js", json_schema=JSON_SCHEMA))],
        )
        conn.execute(
            "SELECT pgstaging.register_staged_table(%s)",
            [Jsonb(spec("orders_nt", fields=NATIVE_FIELDS))],
        )
        # The same statements, table names aside: one rule engine.
        statements = conn.execute(
            "SELECT table_name, insert_sql, verdict_sql FROM pgstaging.staged_tables"
            " WHERE table_name IN ('orders_js', 'orders_nt') ORDER BY table_name"
        ).fetchall()
        (_, js_insert, js_verdict), (_, nt_insert, nt_verdict) = statements
        assert js_insert.replace("orders_js", "orders_nt") == nt_insert
        assert js_verdict.replace("orders_js", "orders_nt") == nt_verdict
        seen = {"promoted": 0, "failed": 0}

        @settings(
            max_examples=60,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(documents=st.lists(DOCUMENT, min_size=1, max_size=12))
        @example(documents=[{"code": "AB", "qty": 1.0, "price": None, "flag": True}])
        @example(documents=[{"code": "AB", "qty": "12"}, {"code": "CD", "qty": 1, "tier": None}])
        def check(documents):
            (run,) = conn.execute(
                "INSERT INTO workflow_runs DEFAULT VALUES RETURNING workflow_run_id"
            ).fetchone()
            js = judge(conn, "orders_js", run, documents)
            nt = judge(conn, "orders_nt", run, documents)
            assert js == nt
            for document, (outcome, errors, _) in zip(documents, js, strict=True):
                if not leap_second(document):
                    assert (outcome != "failed") == ORACLE.is_valid(document), (document, errors)
            for outcome, _, _ in js:
                if outcome in seen:
                    seen[outcome] += 1

        check()
        # Not vacuous: both verdicts were given.
        assert seen["promoted"] > 0 and seen["failed"] > 0, seen
