"""The background work one process does for all processes on a store: deliver webhooks from
the outbox and keep the read models caught up.

Every process (every worker of every host) starts a `Runner`; one at a time works, the one
holding the store's runner lock — on PostgreSQL a session-level advisory lock on a connection
of the runner's own, with SQLite an exclusive lock on a file beside the database, in memory
the one process. A holder that dies (crash, `kill -9`, lost connection) frees the lock with its
session or file; another runner takes it at its next look, within one poll interval.

The election saves work, it does not make the work safe: each task stays correct when two
processes run it at once (a lease per webhook subscription, the read models' compare-and-set on
their position), which is what happens for a moment when a holder's connection is cut without
PostgreSQL having noticed yet. Checkpoints of the transparency log are not a task here: they
are signed when asked for (`GET /log/checkpoint`) by whichever process is asked, and a tree size
is signed once (application/checkpoints.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from infrastructure.settings import DatabaseParts

log = logging.getLogger("dialoog.runner")

#: The advisory lock of the runner (distinct from the schema's, infrastructure/postgres.py).
RUNNER_LOCK_KEY = 0x72756E6E6572  # "runner"


class Leadership(Protocol):
    def held(self) -> bool:
        """Whether this process holds the runner lock now (taking it if it is free)."""

    def close(self) -> None:
        """Give the lock up."""


class SoleLeadership:
    """One process and its store in memory: always the runner."""

    def held(self) -> bool:
        return True

    def close(self) -> None:
        return None


class FileLeadership:
    """SQLite: an exclusive `flock` on `<database>.runner.lock`, freed when the process or its
    file ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def held(self) -> bool:
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # frees the lock
            self._fd = None


class PostgresLeadership:
    """PostgreSQL: `pg_try_advisory_lock` on a connection of its own, kept open whether the
    lock was had or not (a look costs one round trip, not a connection); while held each look
    checks the connection still answers — a lost one lost the lock with its session."""

    def __init__(self, database: DatabaseParts, connect_timeout: float) -> None:
        self._database = database
        self._connect_timeout = max(2, min(int(connect_timeout), 4))
        self._connection: Any = None
        self._holding = False

    def held(self) -> bool:
        import psycopg  # deferred: SQLite-only installs never need libpq

        try:
            if self._connection is None:
                self._connection = psycopg.connect(
                    host=self._database.host,
                    port=self._database.port,
                    user=self._database.user,
                    password=self._database.password,
                    dbname=self._database.dbname,
                    connect_timeout=self._connect_timeout,
                    options="-c statement_timeout=5000",
                    autocommit=True,
                    keepalives=1,
                    keepalives_idle=2,
                    keepalives_interval=1,
                    keepalives_count=3,
                    tcp_user_timeout=5000,
                )
            if self._holding:
                self._connection.execute("SELECT 1")
            else:
                row = self._connection.execute(
                    "SELECT pg_try_advisory_lock(%s)", (RUNNER_LOCK_KEY,)
                ).fetchone()
                self._holding = bool(row and row[0])
        except psycopg.Error:
            self.close()
            return False
        return self._holding

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                if self._holding:
                    # Freed now, not when the server gets round to ending the session: the
                    # next runner may look at once (a closed connection's backend lingers).
                    self._connection.execute("SELECT pg_advisory_unlock(%s)", (RUNNER_LOCK_KEY,))
            with contextlib.suppress(Exception):
                self._connection.close()  # the session ends: the lock is freed in any case
            self._connection = None
        self._holding = False


class Runner:
    """A thread that, every `poll` seconds or when woken, runs each task if this process holds
    the runner lock. A failing task is logged (its kind, not its message: it may carry data)
    and tried again at the next look; it holds back no other task."""

    def __init__(
        self,
        leadership: Leadership,
        tasks: Sequence[tuple[str, Callable[[], object]]],
        poll: float,
    ) -> None:
        self.leadership = leadership
        self.tasks = list(tasks)
        self.poll = poll
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures: dict[str, int] = {}

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="runner", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        self.leadership.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._wake.wait(self.poll)
            self._wake.clear()

    def run_once(self) -> bool:
        """One look: the tasks run if the lock is held; whether it was."""
        try:
            held = self.leadership.held()
        except Exception as error:  # never let the thread die
            log.warning("runner: the lock could not be taken (%s)", type(error).__name__)
            return False
        if not held:
            return False
        for name, task in self.tasks:
            if self._stop.is_set():
                break
            try:
                task()
                self._failures[name] = 0
            except Exception as error:  # the store is down: try again, quietly, later
                failures = self._failures.get(name, 0) + 1
                self._failures[name] = failures
                if failures in (1, 10) or failures % 100 == 0:
                    log.warning("runner: %s failed (%s)", name, type(error).__name__)
        return True
