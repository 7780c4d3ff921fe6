"""The throwaway cluster runs the server that was asked for, unprivileged, with tools that fit."""

from __future__ import annotations

import os
import pwd
import re
import subprocess

from pgstaging.devcluster import _bindir, server_user
from support import fetch_one


def _major(text: str) -> int:
    """15 from "15.20 (Debian ...)" or from "pg_dump (PostgreSQL) 15.20 (Debian ...)"."""
    return int(re.search(r"(?:^|\(PostgreSQL\) )(\d+)", text).group(1))


def test_the_server_is_the_one_in_pg_bindir(db):
    (server_version,) = fetch_one(db.admin_url, "SHOW server_version")
    built = subprocess.run(
        [str(_bindir() / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert _major(built) == _major(server_version), (built, server_version)


def test_pg_dump_is_at_least_the_server_version(db):
    (server_version,) = fetch_one(db.admin_url, "SHOW server_version")
    dumper = subprocess.run(
        [str(_bindir() / "pg_dump"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert _major(dumper) >= _major(server_version), (dumper, server_version)


def test_the_server_does_not_run_as_root(db):
    (data_directory,) = fetch_one(db.admin_url, "SHOW data_directory")
    owner = os.stat(data_directory).st_uid
    assert owner != 0
    if os.geteuid() == 0:
        assert owner == pwd.getpwnam(server_user()).pw_uid
    else:
        assert owner == os.geteuid()
