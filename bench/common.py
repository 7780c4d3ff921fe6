"""Shared plumbing for the benchmark scripts: SQL files, connections, clocks."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from pgstaging import sqlfiles
from psycopg import sql
from psycopg.conninfo import make_conninfo

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"


def query(name: str) -> sql.SQL:
    """A benchmark SQL file (bench/<name>) as a psycopg query."""
    return sql.SQL((BENCH_DIR / name).read_text(encoding="utf-8"))  # type: ignore[arg-type]


def urls() -> tuple[str, str]:
    """(owner URL, superuser URL), as set by ``python -m pgstaging.devcluster``."""
    try:
        return os.environ["DATABASE_URL"], os.environ["PGSTAGING_ADMIN_URL"]
    except KeyError as missing:
        raise SystemExit(
            f"{missing} is not set: run through `make bench` "
            "(python -m pgstaging.devcluster -- ...)"
        ) from None


def login_url(owner_url: str, user: str) -> str:
    return make_conninfo(owner_url, user=user)


def create_logins(admin_url: str) -> None:
    """The test suite's logins (script_login, validator_login, ...): one per
    group role, as in production. Cluster-wide, so throwaway clusters only."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sqlfiles.query("dev/create_test_logins.sql"))


def execute(url: str, name: str, params: dict[str, Any] | None = None) -> int:
    """Run one bench/*.sql file in its own autocommit session; return the row count."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query(name), params).rowcount


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a local process (a server backend), or None if unreadable.

    Less sensitive than wall time to whatever else the machine is running.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After "pid (comm)": state is field 3, utime 14, stime 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(field: str = "VmRSS") -> int:
    """This process's resident set size now (VmRSS) or at its peak (VmHWM).

    VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the
    parent across fork and exec, so a child started by a big parent reports
    the parent's size.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    return 0


class Timer:
    seconds: float = 0.0


@contextmanager
def timed() -> Iterator[Timer]:
    timer = Timer()
    start = time.perf_counter()
    try:
        yield timer
    finally:
        timer.seconds = time.perf_counter() - start


def documents(url: str, prefix: str, rows: int) -> Iterator[Any]:
    """Stream data set ``prefix`` (bench/documents.sql) as Python objects, flat in memory."""
    with psycopg.connect(url) as conn, conn.cursor(name="bench_documents") as cur:
        cur.itersize = 2000
        cur.execute(query("documents.sql"), {"prefix": prefix, "rows": rows})
        for (document,) in cur:
            yield document
