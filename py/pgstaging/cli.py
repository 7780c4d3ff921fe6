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
from pgstaging.errors import BadInput, GateFailed, PgStagingError
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
        _conninfo(args),
        target_schema=args.schema,
        force=args.force,
        specs=args.spec or (),
        role_prefix=args.role_prefix,
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
    with StagingClient.connect(_conninfo(args)) as client:
        if args.all:
            return _promote_all(client, args)
        client.require_run(args.run)
        result = client.promote(
            args.table,
            args.run,
            dry_run=args.dry_run,
            interaction_id=args.interaction,
            ignore_gate=args.ignore_gate,
        )
    return _print_summary(result)


def _print_summary(result: Any) -> int:
    """The summary on stdout; a run held by its gate exits with GateFailed's code."""
    _print_json(result.as_json())
    if result.status == "FAILED":
        gate = result.gate or {}
        print(
            f"pgstaging: the run broke its gate ({gate.get('rule')}: {gate.get('actual')},"
            f" limit {gate.get('limit')}); nothing was promoted",
            file=sys.stderr,
        )
        return GateFailed.exit_code
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
        result = client.retry(
            args.table, args.run, interaction_id=args.interaction, ignore_gate=args.ignore_gate
        )
    return _print_summary(result)


def cmd_unpromote(args: argparse.Namespace) -> int:
    with StagingClient.connect(_conninfo(args)) as client:
        client.require_run(args.run)
        result = client.unpromote(
            args.table,
            args.run,
            reason=args.reason,
            cascade=args.cascade,
            interaction_id=args.interaction,
        )
    _print_json(result)
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    """Print alerts as JSON lines: first those after --since, then new ones."""
    if args.poll is not None and not args.poll > 0:
        raise BadInput("--poll needs a number of seconds greater than 0")
    with StagingClient.connect(_conninfo(args), autocommit=True) as client:
        how = f"polling every {args.poll:g} s" if args.poll else "listening on staging_alerts"
        print(f"pgstaging: {how}", file=sys.stderr, flush=True)
        alerts = client.alerts(timeout=args.timeout, since=args.since, poll=args.poll)
        for seen, alert in enumerate(alerts, start=1):
            print(json.dumps(alert, ensure_ascii=False), flush=True)
            if args.count and seen >= args.count:
                break
    return 0


def cmd_run_start(args: argparse.Namespace) -> int:
    with StagingClient.connect(_conninfo(args)) as client:
        run = client.start_run(args.workflow)
    _print_json({"workflow_run_id": run})
    return 0


def cmd_run_register(args: argparse.Namespace) -> int:
    with StagingClient.connect(_conninfo(args)) as client:
        run = client.register_run(args.run, args.workflow)
    _print_json({"workflow_run_id": run})
    return 0


def cmd_run_end(args: argparse.Namespace) -> int:
    with StagingClient.connect(_conninfo(args)) as client:
        _print_json(client.end_run(args.run, args.status))
    return 0


def cmd_actor(args: argparse.Namespace) -> int:
    # Owner only: the SQL functions refuse anyone else (exit 5).
    with StagingClient.connect(_conninfo(args)) as client:
        if args.actor_command == "add":
            actor_id = client._scalar(
                "client/actor_add.sql", {"actor": args.actor, "login": args.login}
            )
            _print_json({"actor": args.actor, "actor_id": actor_id, "login": args.login})
        elif args.actor_command in ("allow", "disallow"):
            fields = args.fields.split(",") if args.fields else None
            table = None if args.right == "start" else args.table
            client._scalar(
                f"client/actor_{args.actor_command}.sql",
                {"actor": args.actor, "table": table, "right_name": args.right, "fields": fields},
            )
            _print_json(
                {
                    args.actor_command: args.right,
                    "actor": args.actor,
                    "table": table,
                    "fields": fields,
                }
            )
        else:
            for actor in client._scalar("client/actor_list.sql", {}):
                _print_json(actor)
    return 0


def cmd_restage(args: argparse.Namespace) -> int:
    if args.file == "-":
        documents = list(_read_documents(sys.stdin, "<stdin>"))
    else:
        try:
            with open(args.file, encoding="utf-8") as stream:
                documents = list(_read_documents(stream, args.file))
        except OSError as error:
            raise BadInput(f"cannot read {args.file}: {error.strerror}") from error
    if len(documents) != 1:
        raise BadInput(f"restage takes exactly one JSON document, got {len(documents)}")
    with StagingClient.connect(_conninfo(args)) as client:
        new_id = client.restage(args.table, args.staging_id, documents[0])
    _print_json(
        {"status": "SUCCESS", "staging_id": new_id, "supersedes_staging_id": args.staging_id}
    )
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


def _load_specs(client: StagingClient, path: str) -> list[dict[str, Any]]:
    """A .json spec, or the specs a .sql spec file registers (as install --spec takes)."""
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except OSError as error:
        raise BadInput(f"cannot read {path}: {error.strerror}") from error
    if path.endswith(".json"):
        try:
            return [json.loads(text)]
        except ValueError as error:
            raise BadInput(f"{path}: not valid JSON ({error})") from error
    specs = client.captured_specs(text)
    if not specs:
        raise BadInput(f"{path}: registers no spec")
    return specs


def cmd_spec(args: argparse.Namespace) -> int:
    """check: compile and print; try: judge staged rows under it; show: the registered one."""
    with StagingClient.connect(_conninfo(args)) as client:
        if args.spec_command == "show":
            shown = client.spec_show(args.target)
            print(f"-- {shown['table_name']}: rule version {shown['rule_version']}")
            print(json.dumps(shown["spec"], indent=2, ensure_ascii=False))
            for version in shown["versions"]:
                print(
                    f"-- version {version['rule_version']}: {version['registered_by']},"
                    f" {version['registered_at']}"
                )
            for step in ("judge", "insert", "patch_lock", "patch", "verdict"):
                print(f"\n-- step: {step}\n{shown[step + '_sql']};")
            return 0
        for spec in _load_specs(client, args.target):
            if args.spec_command == "check":
                print(f"-- {spec.get('table')}: the spec is valid; the statements it compiles to")
                for step, statement in client.compile_spec(spec):
                    print(f"\n-- step: {step}\n{statement};")
            else:
                _print_json(client.try_spec(spec, args.run or None))
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    """pgstaging.metrics() in the Prometheus text format."""
    from pgstaging.metrics import exposition, fetch

    sys.stdout.write(exposition(fetch(_conninfo(args))).decode("utf-8"))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve /metrics and /healthz until interrupted."""
    from pgstaging.metrics import fetch, make_server

    fetch(_conninfo(args))  # fail at once (exit code) if the database is unreachable
    server = make_server(_conninfo(args), args.host, args.port)
    host, port = server.server_address[:2]
    print(f"pgstaging: serving http://{host}:{port}/metrics and /healthz", file=sys.stderr)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """One self-contained HTML page about a run."""
    from pgstaging.report import write_report

    with StagingClient.connect(_conninfo(args)) as client:
        client.require_run(args.run)
        if args.table is not None:
            client.pending_count(args.table)  # an unknown table: exit 4
        output = args.output or f"run-{args.run}.html"
        write_report(client.conn, args.run, args.table, output)
    print(output)
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
    p.add_argument(
        "--role-prefix",
        help="group role names P_script, P_validator, P_reader, P_steward "
        "(first install only; default staging_<database>)",
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
    _call_options(p, gate=True)
    p.set_defaults(func=cmd_promote)

    p = sub.add_parser("retry", help="re-judge a run's failed rows under the current rules")
    p.add_argument("table")
    p.add_argument("--run", type=int, required=True)
    _call_options(p, gate=True)
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
    _call_options(p, gate=False)
    p.set_defaults(func=cmd_unpromote)

    p = sub.add_parser("spec", help="check, try or show a spec without registering it")
    p.add_argument("spec_command", choices=("check", "try", "show"))
    p.add_argument("target", metavar="FILE|TABLE", help="a .json or .sql spec file; show: a table")
    p.add_argument(
        "--run", type=int, action="append", help="try: judge these runs (default: the last 10)"
    )
    p.set_defaults(func=cmd_spec)

    p = sub.add_parser("watch", help="print alerts as JSON lines: those after --since, then new")
    p.add_argument(
        "--since", type=int, metavar="ALERT_ID", help="first print every alert after this id"
    )
    p.add_argument(
        "--poll", type=float, metavar="SECONDS", help="read the table this often; no LISTEN"
    )
    p.add_argument("--count", type=int, help="stop after this many alerts")
    p.add_argument("--timeout", type=float, help="stop after this many seconds")
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("run", help="start, register or end a workflow run")
    run_sub = p.add_subparsers(dest="run_command", required=True)
    r = run_sub.add_parser("start", help='start a run; prints {"workflow_run_id": N}')
    r.add_argument("--workflow", type=int, help="workflow_id to record")
    r.set_defaults(func=cmd_run_start)
    r = run_sub.add_parser("register", help="register a run the workflow engine made")
    r.add_argument("run", type=int, help="workflow_run_id")
    r.add_argument("--workflow", type=int, help="workflow_id to record")
    r.set_defaults(func=cmd_run_register)
    r = run_sub.add_parser("end", help="end a run as succeeded or failed")
    r.add_argument("run", type=int, help="workflow_run_id")
    r.add_argument("--status", required=True, choices=("succeeded", "failed"))
    r.set_defaults(func=cmd_run_end)

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

    p = sub.add_parser("actor", help="actors, their logins and rights (owner only)")
    actor_sub = p.add_subparsers(dest="actor_command", required=True)
    q = actor_sub.add_parser("add", help="bind an actor (created where missing) to a login")
    q.add_argument("actor")
    q.add_argument("login")
    for verb in ("allow", "disallow"):
        q = actor_sub.add_parser(verb, help=f"{verb} an actor a right on a staged table")
        q.add_argument("actor")
        q.add_argument("right", choices=("stage", "patch", "read", "start"))
        q.add_argument("table", nargs="?", help="staged table (none for start)")
        q.add_argument("--fields", help="comma-separated fields (patch, read)")
    actor_sub.add_parser("list", help="every actor with its logins and rights, as JSON lines")
    p.set_defaults(func=cmd_actor)

    p = sub.add_parser("restage", help="stage a corrected copy of a row (owner and stewards)")
    p.add_argument("table")
    p.add_argument("staging_id", type=int)
    p.add_argument("file", nargs="?", default="-", help="one JSON document, or - for stdin")
    p.set_defaults(func=cmd_restage)

    p = sub.add_parser("metrics", help="print pgstaging.metrics() in the Prometheus text format")
    p.set_defaults(func=cmd_metrics)

    p = sub.add_parser("serve", help="serve Prometheus /metrics and /healthz over HTTP")
    p.add_argument("--port", type=int, default=9187, help="port (default 9187)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("report", help="write one self-contained HTML page about a run")
    p.add_argument("--run", type=int, required=True, help="workflow_run_id")
    p.add_argument("--table", help="only this staged table")
    p.add_argument("-o", "--output", help="HTML file to write (default run-N.html)")
    p.set_defaults(func=cmd_report)
    _accept_dsn_after_the_subcommand(sub)
    return parser


def _call_options(parser: argparse.ArgumentParser, *, gate: bool) -> None:
    parser.add_argument(
        "--interaction", type=int, help="the validator's own interaction id, logged and alerted"
    )
    if gate:
        parser.add_argument(
            "--ignore-gate",
            action="store_true",
            help="promote even if the run breaks its table's gate (logged)",
        )


def _accept_dsn_after_the_subcommand(sub: argparse._SubParsersAction) -> None:
    """``pgstaging promote T --dsn X`` as well as ``pgstaging --dsn X promote T``.

    SUPPRESS as the default: a subcommand without ``--dsn`` keeps the global one.
    """
    for subparser in sub.choices.values():
        if not any("--dsn" in action.option_strings for action in subparser._actions):
            subparser.add_argument(
                "--dsn", default=argparse.SUPPRESS, help="connection string (as before the command)"
            )


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
    if args.command == "promote" and (args.run is None) == (not args.all):
        parser.error("promote needs exactly one of --run N or --all")
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
