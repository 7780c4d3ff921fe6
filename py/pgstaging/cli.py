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
    try:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except (ValueError, RecursionError) as error:
                raise BadInput(f"{source}:{number}: not valid JSON ({error})") from error
    except UnicodeDecodeError as error:
        # Decoding runs ahead of the lines read, so no line number here.
        raise BadInput(f"{source}: not UTF-8 text ({error.reason})") from error


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False))


def cmd_install(args: argparse.Namespace) -> int:
    result = install(
        _conninfo(args), target_schema=args.schema, force=args.force, specs=args.spec or ()
    )
    for message in result.messages:
        print(message)
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
            ids = client.stage(
                args.table, args.run, args.actor, documents, interaction_id=args.interaction
            )
        else:
            try:
                stream = open(args.file, encoding="utf-8")  # noqa: SIM115
            except OSError as error:
                raise BadInput(f"cannot read {args.file}: {error.strerror}") from error
            with stream:
                ids = client.stage(
                    args.table,
                    args.run,
                    args.actor,
                    _read_documents(stream, args.file),
                    interaction_id=args.interaction,
                )
    _print_json({"status": "SUCCESS", "staging_ids": ids, "count": len(ids)})
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    if (args.run is None) == (not args.all):
        raise BadInput("promote needs exactly one of --run N or --all")
    with StagingClient.connect(_conninfo(args)) as client:
        if args.all:
            return _promote_all(client, args)
        client.require_run(args.run)
        result = client.promote(args.table, args.run, dry_run=args.dry_run)
    _print_json(result.as_json())
    return 0


def _promote_all(client: StagingClient, args: argparse.Namespace) -> int:
    """Batch mode, with a progress bar on stderr for long backlogs."""
    from rich.console import Console
    from rich.progress import Progress

    total = client.pending_count(args.table)
    console = Console(stderr=True)
    with Progress(console=console, disable=not console.is_terminal or total == 0) as progress:
        task = progress.add_task(f"promoting {args.table}", total=total)
        totals = client.promote_all(
            args.table,
            args.batch_size,
            on_batch=lambda batch: progress.advance(task, batch["batch_size"]),
        )
    _print_json({"status": "SUCCESS", **totals})
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    with StagingClient.connect(_conninfo(args)) as client:
        client.require_run(args.run)
        result = client.retry(args.table, args.run)
    _print_json(result.as_json())
    return 0


def cmd_unpromote(args: argparse.Namespace) -> int:
    with StagingClient.connect(_conninfo(args)) as client:
        client.require_run(args.run)
        result = client.unpromote(args.table, args.run, reason=args.reason, cascade=args.cascade)
    _print_json(result)
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    """Print alerts from staging_alerts as JSON lines until --count or --timeout."""
    with StagingClient.connect(_conninfo(args), autocommit=True) as client:
        print("pgstaging: listening on staging_alerts", file=sys.stderr, flush=True)
        for seen, alert in enumerate(client.alerts(timeout=args.timeout), start=1):
            print(json.dumps(alert, ensure_ascii=False), flush=True)
            if args.count and seen >= args.count:
                break
    return 0


def cmd_failures(args: argparse.Namespace) -> int:
    with StagingClient.connect(_conninfo(args)) as client:
        client.require_run(args.run)
        failures = client.failures(args.table, args.run)
    if args.json:
        for f in failures:
            _print_json(
                {"staging_id": f.staging_id, "errors": f.validation_errors, "raw_data": f.raw_data}
            )
        return 0
    from pgstaging.display import failures_table, print_table

    print_table(failures_table(args.table, args.run, failures))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """A run's ledger with --run; without it, the health of every staged table."""
    with StagingClient.connect(_conninfo(args)) as client:
        if args.run is None:
            health = client.health()
            guards = {g.table_name: g for g in client.guard_status()}
            writers = client.direct_writers(days=7)
        else:
            client.require_run(args.run)
            rows = client.status(args.run)
    if args.run is None:
        if args.json:
            for h in health:
                guard = guards.get(h.table_name)
                _print_json(
                    {
                        **h.__dict__,
                        "oldest_pending_age": str(h.oldest_pending_age or ""),
                        "failure_rate": None if h.failure_rate is None else float(h.failure_rate),
                        "guard_mode": guard.mode if guard else None,
                        "unstaged_rows": guard.unstaged_rows if guard else None,
                    }
                )
            return 0
        from pgstaging.display import guard_tables, health_tables, print_table

        for table in health_tables(health) + guard_tables(list(guards.values()), writers):
            print_table(table)
        return 0
    if args.json:
        for r in rows:
            _print_json(r.__dict__)
        return 0
    from pgstaging.display import print_table, status_table

    print_table(status_table(args.run, rows))
    return 0


def cmd_guard(args: argparse.Namespace) -> int:
    """Owner only: switch a staged table's guard between observe and enforce."""
    with StagingClient.connect(_conninfo(args)) as client:
        result = client.set_guard(args.table, args.mode, force=args.force)
    _print_json(result)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pgstaging",
        description="Stage untrusted rows and promote them inside PostgreSQL.",
    )
    parser.add_argument("--version", action="version", version=f"pgstaging {__version__}")
    parser.add_argument(
        "--dsn", help="connection string (default: $DATABASE_URL, then PG* variables)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("install", help="install or upgrade pgstaging (idempotent)")
    p.add_argument("--schema", default="public", help="schema for data tables (default: public)")
    p.add_argument("--force", action="store_true", help="re-run the scripts even if unchanged")
    p.add_argument(
        "--spec",
        action="append",
        metavar="FILE",
        help="also register your own staged table from this spec file (repeatable)",
    )
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
    p.add_argument("--run", type=int, help="workflow_run_id")
    p.add_argument("--dry-run", action="store_true", help="show the summary, change nothing")
    p.add_argument(
        "--all",
        action="store_true",
        help="batch mode: every pending row of the table, in committed batches",
    )
    p.add_argument("--batch-size", type=int, default=10000, help="rows per batch (--all)")
    p.set_defaults(func=cmd_promote)

    p = sub.add_parser("retry", help="re-judge a run's failed rows under the current rules")
    p.add_argument("table")
    p.add_argument("--run", type=int, required=True)
    p.set_defaults(func=cmd_retry)

    p = sub.add_parser("unpromote", help="take a promoted run back out of production")
    p.add_argument("table")
    p.add_argument("--run", type=int, required=True)
    p.add_argument("--reason", help="why, recorded on every rolled back row")
    p.add_argument(
        "--cascade",
        action="store_true",
        help="also take back staged rows of other tables that depend on this run",
    )
    p.set_defaults(func=cmd_unpromote)

    p = sub.add_parser("watch", help="print staging_alerts notifications as they come")
    p.add_argument("--count", type=int, help="stop after this many alerts")
    p.add_argument("--timeout", type=float, help="stop after this many seconds")
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("failures", help="list a run's failed rows with their reasons")
    p.add_argument("table")
    p.add_argument("--run", type=int, required=True)
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.set_defaults(func=cmd_failures)

    p = sub.add_parser("guard", help="owner: observe direct writes to production, or enforce")
    p.add_argument("table")
    p.add_argument("mode", choices=("observe", "enforce"))
    p.add_argument(
        "--force",
        action="store_true",
        help="enforce even though direct writes were seen in the last day",
    )
    p.set_defaults(func=cmd_guard)

    p = sub.add_parser("status", help="a run's ledger per staged table, or every table's health")
    p.add_argument("--run", type=int, help="workflow_run_id (default: health of every table)")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.set_defaults(func=cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # argparse gives `stage TABLE` an empty FILE at once, so a FILE written
    # after the options (`stage TABLE --run N --actor A FILE`, as documented)
    # comes back unrecognized: take it as the FILE.
    if (
        args.command == "stage"
        and args.file == "-"
        and len(extra) == 1
        and (extra[0] == "-" or not extra[0].startswith("-"))
    ):
        args.file, extra = extra[0], []
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args)
    except PgStagingError as error:
        # One line, whatever the message holds (libpq's run over several).
        print("pgstaging: " + " ".join(str(error).split()), file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("pgstaging: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
