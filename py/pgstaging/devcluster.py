"""A throwaway local PostgreSQL cluster for ``make demo`` and ``make test``.

initdb and pg_ctl into a temporary folder, on a free port; when run as root
the server runs as the ``postgres`` OS user. Nothing touches the machine's
shared server. ``python -m pgstaging.devcluster -- CMD ...`` runs CMD with
DATABASE_URL (the non-superuser owner) and PGSTAGING_ADMIN_URL (superuser)
set, then stops and removes the cluster.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pgstaging import sqlfiles

SUPERUSER = "postgres"
OWNER = "pgstaging_owner"
DATABASE = "pgstaging"


def _bindir() -> Path:
    if found := os.environ.get("PG_BINDIR"):
        return Path(found)
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    for version in ("17", "16", "15"):
        candidate = Path(f"/usr/lib/postgresql/{version}/bin")
        if (candidate / "initdb").exists():
            return candidate
    raise RuntimeError("initdb not found: install postgresql-15 or set PG_BINDIR")


def _fsync() -> str:
    # Tests want speed (off); benchmarks want commits that cost what they cost.
    return "on" if os.environ.get("PGSTAGING_DEVCLUSTER_FSYNC") == "on" else "off"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    datadir: Path
    port: int

    def url(self, user: str = OWNER, dbname: str = DATABASE) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    @property
    def admin_url(self) -> str:
        return self.url(SUPERUSER, DATABASE)


def _as_server_user(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; hand the server to the postgres user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextmanager
def temp_cluster(*, quiet: bool = True) -> Iterator[Cluster]:
    """Start a throwaway cluster with the owner role and database; remove it after."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="pgstaging-"))
    datadir = root / "data"
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
    out = subprocess.DEVNULL if quiet else None
    port = _free_port()
    try:
        subprocess.run(
            _as_server_user(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(datadir),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            stdout=out,
            stderr=out,
        )
        options = (
            f"-c port={port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={root} -c fsync={_fsync()} "
            "-c max_connections=120 -c shared_buffers=256MB"
        )
        subprocess.run(
            _as_server_user(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(datadir),
                    "-l",
                    str(root / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "start",
                ]
            ),
            check=True,
            stdout=out,
            stderr=out,
        )
        cluster = Cluster(datadir, port)
        with psycopg.connect(cluster.url(SUPERUSER, "postgres"), autocommit=True) as conn:
            conn.execute(sqlfiles.query("dev/create_owner.sql"))
            conn.execute(sqlfiles.query("dev/create_database.sql"))
        yield cluster
    finally:
        if datadir.exists():
            subprocess.run(
                _as_server_user(
                    [str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"]
                ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        print("usage: python -m pgstaging.devcluster -- COMMAND [ARG ...]", file=sys.stderr)
        return 2
    with temp_cluster() as cluster:
        env = dict(os.environ, DATABASE_URL=cluster.url(), PGSTAGING_ADMIN_URL=cluster.admin_url)
        print(f"pgstaging: throwaway PostgreSQL on 127.0.0.1:{cluster.port}", file=sys.stderr)
        return subprocess.run(args, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
