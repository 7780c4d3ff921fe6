"""sql/spec.schema.json is a real draft 2020-12 schema, as editors read it.

The database checks specs against this file (pgstaging.normalize_spec); here
the standard validator (the jsonschema package) reads the same file: it is a
valid schema, every packaged spec and the example spec conform to it, and
the issue's misspelt spec does not. So an editor that validates with the
file agrees with registration.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from jsonschema import Draft202012Validator
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parents[2]
FORMAT = json.loads((ROOT / "sql" / "spec.schema.json").read_text(encoding="utf-8"))
SPEC_FILES = [
    *sorted((ROOT / "sql" / "specs").glob("*.sql")),
    ROOT / "examples" / "specs" / "companies.sql",
]


def spec_of(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    return json.loads(text.split("$spec$")[1])


def test_the_format_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(FORMAT)


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_every_shipped_spec_conforms(path):
    assert list(Draft202012Validator(FORMAT).iter_errors(spec_of(path))) == []


MISSPELT = {
    "table": "t",
    "id_column": "t_id",
    "natural_key": ["a"],
    "fields": [
        {"column": "a", "required": True},
        {"column": "b"},
        {"column": "c", "max_lenght": 3, "normalise": ["lower"]},
    ],
}


def test_editors_and_the_database_refuse_the_same_misspelt_spec(db):
    errors = list(Draft202012Validator(FORMAT).iter_errors(MISSPELT))
    assert [list(e.absolute_path) for e in errors] == [["fields", 2]]
    assert "max_lenght" in errors[0].message and "normalise" in errors[0].message
    with db.connect() as conn, pytest.raises(psycopg.Error) as refused:
        conn.execute("SELECT pgstaging.register_staged_table(%s)", [Jsonb(MISSPELT)])
    assert refused.value.sqlstate == "22023"
    assert refused.value.diag.message_primary.startswith("pgstaging: unknown key fields[2].")


def test_a_json_schema_spec_conforms_and_registers(db):
    spec = {
        "table": "t",
        "id_column": "t_id",
        "natural_key": ["a"],
        "json_schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["a"],
            "properties": {"a": {"type": "string"}, "n": {"type": ["integer", "null"]}},
        },
    }
    assert list(Draft202012Validator(FORMAT).iter_errors(spec)) == []
    bad = {**spec, "json_schema": {**spec["json_schema"], "additionalProperties": False}}
    assert list(Draft202012Validator(FORMAT).iter_errors(bad)) != []
    with db.connect() as conn:
        (version,) = conn.execute(
            "SELECT pgstaging.register_staged_table(%s)", [Jsonb(spec)]
        ).fetchone()
        assert version == 1
        with pytest.raises(psycopg.Error) as refused:
            conn.execute("SELECT pgstaging.register_staged_table(%s)", [Jsonb(bad)])
        assert refused.value.sqlstate == "22023"
