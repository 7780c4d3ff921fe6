"""The ``pgstaging`` command line, run as a subprocess against real logins."""

from __future__ import annotations

import json

import pytest
from pgstaging import __version__
from pgstaging.errors import (
    BadInput,
    ConnectionFailed,
    PermissionDenied,
    PgStagingError,
    UnknownActor,
    UnknownRun,
    UnknownTable,
)
from support import (
    assert_one_line_error,
    fetch_all,
    ledger,
    run_cli,
    staged_rows,
)

DOCUMENTS = [
    {"job_id": "CLI-1", "title": " Data Engineer ", "location": "Berlin"},
    {"job_id": "CLI-1", "title": "Same job again"},
    {"job_id": "CLI-2"},
    {"job_id": 77, "title": "Numeric id", "description": "ünïcödé ✓ 日本"},
]


def jsonl(documents) -> str:
    return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents)


def stage_stdin(url, run, actor, stdin: str, table: str = "postings"):
    """``pgstaging stage TABLE --run RUN --actor ACTOR``, documents on stdin."""
    return run_cli("stage", table, "--run", str(run), "--actor", str(actor), url=url, input=stdin)


def success_line(ids: list[int]) -> str:
    return json.dumps({"status": "SUCCESS", "staging_ids": ids, "count": len(ids)}) + "\n"


def summary_from_database(db, run_id: int) -> dict:
    """The design's summary, rebuilt from the staging table itself."""
    rows = fetch_all(
        db.admin_url,
        "SELECT staging_id, outcome, promoted_to_id, validation_errors FROM postings_staging "
        "WHERE workflow_run_id = %s ORDER BY staging_id",
        (run_id,),
    )
    promoted = [{"staging_id": s, "posting_id": p} for s, o, p, _ in rows if o == "promoted"]
    duplicates = [{"staging_id": s, "posting_id": p} for s, o, p, _ in rows if o == "duplicate"]
    failed = [{"staging_id": s, "errors": e} for s, o, _, e in rows if o == "failed"]
    return {
        "status": "SUCCESS",
        "promoted_count": len(promoted),
        "duplicate_count": len(duplicates),
        "failed_count": len(failed),
        "details": {"promoted": promoted, "duplicates": duplicates, "failed": failed},
    }


# -- the documented exit codes ----------------------------------------------


def test_exit_codes_are_the_documented_ones():
    assert PgStagingError.exit_code == 1
    assert ConnectionFailed.exit_code == 3
    assert UnknownTable.exit_code == UnknownRun.exit_code == UnknownActor.exit_code == 4
    assert PermissionDenied.exit_code == 5
    assert BadInput.exit_code == 7


def test_version_and_help():
    done = run_cli("--version", url=None)
    assert (done.returncode, done.stdout) == (0, f"pgstaging {__version__}\n")
    done = run_cli("--help", url=None)
    assert done.returncode == 0
    for command in ("install", "stage", "promote", "failures", "status"):
        assert command in done.stdout


# -- install ----------------------------------------------------------------


def test_install_then_install_again(empty_db):
    done = run_cli("install", url=empty_db.owner_url)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"pgstaging {__version__} installed in schema public\n"

    # --dsn wins over DATABASE_URL (here pointing nowhere).
    done = run_cli("--dsn", empty_db.owner_url, "install", url="postgresql://x@127.0.0.1:1/none")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"pgstaging {__version__} already installed in schema public\n"

    done = run_cli("install", "--force", url=empty_db.owner_url)
    assert done.returncode == 0 and "installed in schema public" in done.stdout
    assert "already" not in done.stdout
    assert len(fetch_all(empty_db.admin_url, "SELECT 1 FROM pgstaging.installs")) == 2


def test_install_into_a_missing_schema_is_one_clear_line(empty_db):
    done = run_cli("install", "--schema", "nowhere", url=empty_db.owner_url)
    assert_one_line_error(done, 1, 'target schema "nowhere" does not exist')


# -- stage ------------------------------------------------------------------


def test_stage_from_a_file(db, run_id, actor_id, tmp_path):
    path = tmp_path / "jobs.jsonl"
    # A blank line is skipped, not staged.
    path.write_text(jsonl(DOCUMENTS[:2]) + "\n   \n" + jsonl(DOCUMENTS[2:]), encoding="utf-8")

    done = run_cli(
        "stage",
        "postings",
        str(path),
        "--run",
        str(run_id),
        "--actor",
        "test_fetcher",
        "--interaction",
        "9001",
        url=db.url("script_login"),
    )

    assert (done.returncode, done.stderr) == (0, "")
    ids = json.loads(done.stdout)["staging_ids"]
    assert done.stdout == success_line(ids)
    assert len(ids) == len(DOCUMENTS) and ids == sorted(ids)
    rows = fetch_all(
        db.admin_url,
        "SELECT staging_id, raw_data, actor_id, interaction_id, inserted_by, outcome "
        "FROM postings_staging WHERE workflow_run_id = %s ORDER BY staging_id",
        (run_id,),
    )
    assert rows == [
        (i, d, actor_id, 9001, "script_login", None) for i, d in zip(ids, DOCUMENTS, strict=True)
    ]


def test_stage_with_the_file_after_the_options(db, run_id, actor_id, tmp_path):
    # The README's form: pgstaging stage TABLE --run N --actor NAME|ID [FILE|-]
    path = tmp_path / "jobs.jsonl"
    path.write_text(jsonl(DOCUMENTS), encoding="utf-8")
    url = db.url("script_login")

    done = run_cli(
        "stage", "postings", "--run", str(run_id), "--actor", str(actor_id), str(path), url=url
    )

    assert (done.returncode, done.stderr) == (0, "")
    ids = json.loads(done.stdout)["staging_ids"]
    assert [r.raw_data for r in staged_rows(db.admin_url, ids)] == DOCUMENTS

    done = run_cli(
        "stage",
        "postings",
        "--run",
        str(run_id),
        "--actor",
        str(actor_id),
        "-",
        url=url,
        input=jsonl(DOCUMENTS[:1]),
    )
    assert done.returncode == 0 and json.loads(done.stdout)["count"] == 1
    for extra in (["--bogus"], [str(path), str(path)]):
        done = run_cli(
            "stage", "postings", "--run", str(run_id), "--actor", str(actor_id), *extra, url=url
        )
        assert done.returncode == 2 and "unrecognized arguments" in done.stderr
    assert ledger(db.admin_url, run_id)["staged"] == len(DOCUMENTS) + 1


def test_stage_from_stdin_with_dsn(db, run_id, actor_id):
    for file_args in ([], ["-"]):
        done = run_cli(
            "--dsn",
            db.url("script_login2"),
            "stage",
            "postings",
            *file_args,
            "--run",
            str(run_id),
            "--actor",
            str(actor_id),
            url=None,
            input=jsonl(DOCUMENTS),
        )
        assert (done.returncode, done.stderr) == (0, "")
        ids = json.loads(done.stdout)["staging_ids"]
        assert done.stdout == success_line(ids)
        assert [r.raw_data for r in staged_rows(db.admin_url, ids)] == DOCUMENTS
    assert ledger(db.admin_url, run_id)["staged"] == 2 * len(DOCUMENTS)


def test_stage_nothing_prints_an_empty_success(db, run_id, actor_id):
    done = stage_stdin(db.url("script_login"), run_id, actor_id, "\n\n")
    assert (done.returncode, done.stdout) == (0, success_line([]))


# -- promote, failures, status ---------------------------------------------


def test_promote_prints_the_design_summary(db, script, run_id, actor_id):
    ids = script.stage("postings", run_id, actor_id, DOCUMENTS)

    done = run_cli("promote", "postings", "--run", str(run_id), url=db.url("validator_login"))

    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.count("\n") == 1
    summary = json.loads(done.stdout)
    assert summary == summary_from_database(db, run_id)
    assert (summary["promoted_count"], summary["duplicate_count"], summary["failed_count"]) == (
        2,
        1,
        1,
    )
    assert summary["details"]["failed"] == [
        {"staging_id": ids[2], "errors": [{"field": "title", "error": "missing"}]}
    ]
    assert (
        summary["details"]["duplicates"][0]["posting_id"]
        == (summary["details"]["promoted"][0]["posting_id"])
    )

    again = run_cli("promote", "postings", "--run", str(run_id), url=db.url("validator_login"))
    assert again.returncode == 0
    assert json.loads(again.stdout) == {
        "status": "SUCCESS",
        "promoted_count": 0,
        "duplicate_count": 0,
        "failed_count": 0,
        "details": {"promoted": [], "duplicates": [], "failed": []},
    }


def test_failures_as_a_table_and_as_json(db, script, validator, run_id, actor_id):
    ids = script.stage("postings", run_id, actor_id, [*DOCUMENTS, ["not", "an", "object"]])
    validator.promote("postings", run_id)

    done = run_cli(
        "failures", "postings", "--run", str(run_id), "--json", url=db.url("reader_login")
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        {
            "staging_id": ids[2],
            "errors": [{"field": "title", "error": "missing"}],
            "raw_data": DOCUMENTS[2],
        },
        {
            "staging_id": ids[4],
            "errors": [{"field": "raw_data", "error": "not an object"}],
            "raw_data": ["not", "an", "object"],
        },
    ]

    table = run_cli("failures", "postings", "--run", str(run_id), url=db.url("validator_login"))
    assert table.returncode == 0
    assert "title: missing" in table.stdout and "raw_data: not an object" in table.stdout
    first_cells = [
        line.replace("│", " ").split()[0]
        for line in table.stdout.splitlines()
        if line.startswith("│")
    ]
    assert first_cells == [str(ids[2]), str(ids[4])]


def test_status_as_a_table_and_as_json(db, script, validator, run_id, actor_id):
    script.stage("postings", run_id, actor_id, DOCUMENTS)
    validator.promote("postings", run_id)
    script.stage("postings", run_id, actor_id, [{"job_id": "LATE", "title": "pending"}])

    done = run_cli("status", "--run", str(run_id), "--json", url=db.url("validator_login"))
    assert (done.returncode, done.stderr) == (0, "")
    rows = {r["table_name"]: r for r in map(json.loads, done.stdout.splitlines())}
    # One line per staged table; only postings has rows in this run.
    expected = {
        "table_name": "postings",
        "staged": 5,
        "pending": 1,
        "promoted": 2,
        "duplicate": 1,
        "failed": 1,
    }
    assert {k: rows["postings"][k] for k in expected} == expected
    assert all(r["staged"] == 0 for name, r in rows.items() if name != "postings")

    table = run_cli("status", "--run", str(run_id), url=db.url("reader_login"))
    assert table.returncode == 0
    header = next(line for line in table.stdout.splitlines() if "staged" in line)
    (row,) = [line for line in table.stdout.splitlines() if line.startswith("│ postings ")]
    cells = dict(
        zip(
            [c.strip() for c in header.split("┃")], [c.strip() for c in row.split("│")], strict=True
        )
    )
    assert {k: cells[k] for k in ("staged", "pending", "promoted", "duplicate", "failed")} == {
        "staged": "5",
        "pending": "1",
        "promoted": "2",
        "duplicate": "1",
        "failed": "1",
    }


# -- errors: one line, the documented code ----------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["status", "--run", "1"],
        ["promote", "postings", "--run", "1"],
        ["install"],
    ],
)
def test_bad_connection_exits_3(command):
    done = run_cli("--dsn", "postgresql://nobody@127.0.0.1:1/nothing", *command, url=None)
    assert_one_line_error(done, 3, "cannot connect to PostgreSQL")


def test_missing_database_and_unknown_login_exit_3(db):
    done = run_cli("status", "--run", "1", url=db.url().replace(db.name, "no_such_db"))
    assert_one_line_error(done, 3, "no_such_db")
    done = run_cli("status", "--run", "1", url=db.url("no_such_login"))
    assert_one_line_error(done, 3, "no_such_login")


def test_unknown_table_exits_4(db, run_id, actor_id):
    done = stage_stdin(db.url("script_login"), run_id, actor_id, jsonl(DOCUMENTS), table="nope")
    assert_one_line_error(done, 4, '"nope"', "postings")
    done = run_cli("promote", "nope", "--run", str(run_id), url=db.url("validator_login"))
    assert_one_line_error(done, 4, '"nope"')
    done = run_cli("failures", "nope", "--run", str(run_id), url=db.url("validator_login"))
    assert_one_line_error(done, 4, '"nope"')
    assert done.stderr.count("pgstaging:") == 1
    assert ledger(db.admin_url, run_id)["staged"] == 0


def test_missing_run_exits_4(db, run_id, actor_id):
    missing = str(run_id + 1000)
    done = stage_stdin(db.url("script_login"), missing, actor_id, jsonl(DOCUMENTS))
    assert_one_line_error(done, 4, "unknown workflow run")
    for command in (["promote", "postings"], ["failures", "postings"], ["status"]):
        done = run_cli(*command, "--run", missing, url=db.url("validator_login"))
        assert_one_line_error(done, 4, f"unknown workflow run {missing}")
    assert fetch_all(db.admin_url, "SELECT count(*) FROM postings_staging") == [(0,)]


def test_unknown_actor_exits_4(db, run_id):
    done = stage_stdin(db.url("script_login"), run_id, "ghost", jsonl(DOCUMENTS))
    assert_one_line_error(done, 4, '"ghost"')
    done = stage_stdin(db.url("script_login"), run_id, "424242", jsonl(DOCUMENTS))
    assert_one_line_error(done, 4, "unknown actor")
    assert ledger(db.admin_url, run_id)["staged"] == 0


def test_permission_denied_exits_5(db, script, run_id, actor_id):
    script.stage("postings", run_id, actor_id, DOCUMENTS)

    # A script may stage, never promote.
    done = run_cli("promote", "postings", "--run", str(run_id), url=db.url("script_login"))
    assert_one_line_error(done, 5, "permission denied", "promote_postings_staging")
    # A validator judges, never stages; a login without a group does nothing.
    done = stage_stdin(db.url("validator_login"), run_id, actor_id, jsonl(DOCUMENTS))
    assert_one_line_error(done, 5, "permission denied")
    done = stage_stdin(db.url("nobody_login"), run_id, actor_id, jsonl(DOCUMENTS))
    assert_one_line_error(done, 5, "permission denied")
    done = run_cli("failures", "postings", "--run", str(run_id), url=db.url("script_login"))
    assert_one_line_error(done, 5, "permission denied")

    assert ledger(db.admin_url, run_id) == {
        "staged": len(DOCUMENTS),
        "pending": len(DOCUMENTS),
        "promoted": 0,
        "duplicate": 0,
        "failed": 0,
    }
    assert fetch_all(db.admin_url, "SELECT count(*) FROM postings") == [(0,)]


@pytest.mark.parametrize(
    ("bad_line_at", "bad_line"),
    [(1, "{not json"), (3, '{"job_id": "X", "title": "unterminated'), (1501, "[1, 2,]")],
)
def test_invalid_json_line_exits_7_and_stages_nothing(db, run_id, actor_id, bad_line_at, bad_line):
    # Line 1501 comes after a first batch of 1000 has gone to the server.
    lines = [json.dumps({"job_id": f"J{n}", "title": "t"}) for n in range(1, 2001)]
    lines[bad_line_at - 1] = bad_line

    done = stage_stdin(db.url("script_login"), run_id, actor_id, "\n".join(lines) + "\n")

    assert_one_line_error(done, 7, f"<stdin>:{bad_line_at}: not valid JSON")
    assert ledger(db.admin_url, run_id)["staged"] == 0


def test_json_nested_too_deep_for_python_exits_7(db, run_id, actor_id):
    deep = "[" * 100_000 + "]" * 100_000
    done = stage_stdin(db.url("script_login"), run_id, actor_id, jsonl(DOCUMENTS) + deep + "\n")
    assert_one_line_error(done, 7, "<stdin>:5")
    assert ledger(db.admin_url, run_id)["staged"] == 0


def test_unreadable_file_exits_7(db, run_id, actor_id, tmp_path):
    missing = tmp_path / "missing.jsonl"
    done = run_cli(
        "stage",
        "postings",
        str(missing),
        "--run",
        str(run_id),
        "--actor",
        str(actor_id),
        url=db.url("script_login"),
    )
    assert_one_line_error(done, 7, str(missing))


def test_non_utf8_file_exits_7(db, run_id, actor_id, tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(jsonl(DOCUMENTS).encode() + b'{"job_id": "L1", "title": "caf\xe9"}\n')
    done = run_cli(
        "stage",
        "postings",
        str(path),
        "--run",
        str(run_id),
        "--actor",
        str(actor_id),
        url=db.url("script_login"),
    )
    assert_one_line_error(done, 7, "not UTF-8")
    assert ledger(db.admin_url, run_id)["staged"] == 0


# -- conventions: --dsn anywhere, usage errors, the server's DETAIL ----------


def test_dsn_is_accepted_after_the_subcommand(db, run_id, actor_id):
    done = run_cli(
        "stage",
        "postings",
        "--run",
        str(run_id),
        "--actor",
        str(actor_id),
        "--dsn",
        db.url("script_login"),
        url=None,
        input=jsonl(DOCUMENTS[:1]),
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert ledger(db.admin_url, run_id)["staged"] == 1
    # After the subcommand it wins over the one before; either alone works.
    done = run_cli(
        "--dsn",
        "postgresql://nobody@127.0.0.1:1/none",
        "promote",
        "postings",
        "--run",
        str(run_id),
        "--dsn",
        db.url("validator_login"),
        url=None,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout)["promoted_count"] == 1
    done = run_cli("status", "--json", "--dsn", db.url("reader_login"), url=None)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize("args", [[], ["--run", "1", "--all"]])
def test_promote_needs_exactly_one_of_run_and_all(db, args):
    done = run_cli("promote", "postings", *args, url=db.url("validator_login"))
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "exactly one of --run N or --all" in done.stderr
    assert "Traceback" not in done.stderr


def test_database_errors_show_the_servers_detail(db, owner, script, validator, actor_id, tmp_path):
    # 23503: the DETAIL names the unpromote's dependents.
    postings_run, skills_run = owner.start_run(), owner.start_run()
    script.stage("postings", postings_run, actor_id, [{"job_id": "D1", "title": "t"}])
    validator.promote("postings", postings_run)
    script.stage("job_skills", skills_run, actor_id, [{"job_id": "D1", "skill": "SQL"}])
    validator.promote("job_skills", skills_run)
    done = run_cli(
        "unpromote", "postings", "--run", str(postings_run), url=db.url("validator_login")
    )
    assert_one_line_error(
        done, 6, "database error 23503", "Dependents: public.job_skills.posting_id (1 rows)"
    )
    # 42501: a guard's DETAIL (here, a spec file that writes production).
    spec = tmp_path / "writes_production.sql"
    spec.write_text("INSERT INTO postings (external_job_id, job_title) VALUES ('X', 'x');\n")
    done = run_cli("install", "--spec", str(spec), url=db.owner_url)
    assert_one_line_error(done, 5, "permission denied", "Only pgstaging functions write this table")
