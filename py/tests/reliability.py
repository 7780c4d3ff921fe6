"""Helpers for the reliability tests (load, faults, retries, fuzz, upgrade).

Probing SQL lives in the tests and here, never in the package.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from support import fetch_all, fetch_one


class InThread:
    """Run ``call`` in a thread; ``result()`` gives its value or raises what it raised."""

    def __init__(self, call: Callable[[], Any]):
        self.value: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.value = call()
            except BaseException as error:
                self.error = error

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def result(self, timeout: float = 60) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the call did not return in time"
        if self.error is not None:
            raise self.error
        return self.value

    def error_after(self, timeout: float = 60) -> BaseException:
        """What the call raised; fails if it returned normally."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the call did not return in time"
        assert self.error is not None, f"the call was not interrupted: {self.value!r}"
        return self.error


def running_pid(admin_url: str, dbname: str, user: str, fragment: str, timeout: float = 20) -> int:
    """The pid of ``user``'s backend once pg_stat_activity shows it running ``fragment``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = fetch_all(
            admin_url,
            """SELECT pid FROM pg_stat_activity
               WHERE datname = %s AND usename = %s AND state = 'active' AND query LIKE %s""",
            (dbname, user, f"%{fragment}%"),
        )
        if found:
            return found[0][0]
        time.sleep(0.005)
    raise AssertionError(f"{user} never ran {fragment!r}")


def terminate(admin_url: str, pid: int) -> None:
    assert fetch_one(admin_url, "SELECT pg_terminate_backend(%s)", (pid,)) == (True,)
