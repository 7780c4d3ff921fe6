"""The ``pgstaging`` command line. Exit codes are listed in the README."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

from pgstaging import __version__
from pgstaging.client import StagingClient
from pgstaging.errors import BadInput, PgStagingError
from pgstaging.installer import install


def _conninfo(args: argparse.Namespace) -> str:
    # --dsn, else DATABASE_URL, else "" (libpq reads PGHOST, PGUSER, ...).
    return args.dsn or os.environ.get("DATABASE_URL", "")


def _read_documents(stream: IO[str], source: str) -> Iterator[Any]:
    """JSON lines; a bad line stops everything before anything is committed."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except ValueError as error:
            raise BadInput(f"{source}:{number}: not valid JSON ({error})") from error


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False))


def cmd_install(args: argparse.Namespace) -> int:
    result = install(_conninfo(args), target_schema=args.schema, force=args.force)
    if result.changed:
        was = f" (upgraded from {result.previous_version})" if result.previous_version else ""
        print(f"pgstaging {result.version} installed in schema {result.target_schema}{was}")
    else:
        print(f"pgstaging {result.version} already installed in schema {result.target_schema}")
    return 0


def cmd_stage(args: argparse.Namespace) -> int:
    with StagingClient.connect(_conninfo(args)) as client:
        if args.file == "-":
            documents = _read_documents(sys.stdin, "<stdin>")
            ids = client.stage(args.table, args.run, args.actor, documents,
                               interaction_id=args.interaction)
        else:
            try:
                stream = open(args.file, encoding="utf-8")  # noqa: SIM115
            except OSError as error:
                raise BadInput(f"cannot read {args.file}: {error.strerror}") from error
            with stream:
                ids = client.stage(args.table, args.run, args.actor,
                                   _read_documents(stream, args.file),
                                   interaction_id=args.interaction)
    _print_json({"status": "SUCCESS", "staging_ids": ids, "count": len(ids)})
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    with StagingClient.connect(_conninfo(args)) as client:
        client.require_run(args.run)
        result = client.promote(args.table, args.run)
    _print_json(result.as_json())
    return 0


def cmd_failures(args: argparse.Namespace) -> int:
    with StagingClient.connect(_conninfo(args)) as client:
        client.require_run(args.run)
        failures = client.failures(args.table, args.run)
    if args.json:
        for f in failures:
            _print_json({"staging_id": f.staging_id, "errors": f.validation_errors,
                         "raw_data": f.raw_data})
        return 0
    from pgstaging.display import failures_table, print_table

    print_table(failures_table(args.table, args.run, failures))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with StagingClient.connect(_conninfo(args)) as client:
        client.require_run(args.run)
        rows = client.status(args.run)
    if args.json:
        for r in rows:
            _print_json(r.__dict__)
        return 0
    from pgstaging.display import print_table, status_table

    print_table(status_table(args.run, rows))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pgstaging",
        description="Stage untrusted rows and promote them inside PostgreSQL.",
    )
    parser.add_argument("--version", action="version", version=f"pgstaging {__version__}")
    parser.add_argument("--dsn", help="connection string (default: $DATABASE_URL, then PG* variables)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("install", help="install or upgrade pgstaging (idempotent)")
    p.add_argument("--schema", default="public", help="schema for data tables (default: public)")
    p.add_argument("--force", action="store_true", help="re-run the scripts even if unchanged")
    p.set_defaults(func=cmd_install)

    p = sub.add_parser("stage", help="stage JSON lines as raw rows (prints the staging ids)")
    p.add_argument("table", help="staged table, e.g. postings")
    p.add_argument("--run", type=int, required=True, help="workflow_run_id")
    p.add_argument("--actor", required=True, help="actor name or id")
    p.add_argument("--interaction", type=int, help="interaction_id to record")
    p.add_argument("file", nargs="?", default="-", help="JSON lines file, or - for stdin")
    p.set_defaults(func=cmd_stage)

    p = sub.add_parser("promote", help="validate and promote a run (prints the summary JSON)")
    p.add_argument("table")
    p.add_argument("--run", type=int, required=True)
    p.set_defaults(func=cmd_promote)

    p = sub.add_parser("failures", help="list a run's failed rows with their reasons")
    p.add_argument("table")
    p.add_argument("--run", type=int, required=True)
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.set_defaults(func=cmd_failures)

    p = sub.add_parser("status", help="a run's ledger per staged table")
    p.add_argument("--run", type=int, required=True)
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.set_defaults(func=cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PgStagingError as error:
        print(f"pgstaging: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("pgstaging: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
