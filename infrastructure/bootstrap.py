"""The composition root: turns a `Settings` into the running services, once.

The CLI, the app factory and the tests all call `bootstrap(settings)`; tests pass other
settings. Nothing here connects at import time."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from application.errors import StoreUnavailable
from application.service import ContractService
from infrastructure.access_log import BufferedAccessLog, access_log_store
from infrastructure.event_store import contract_service
from infrastructure.settings import DatabaseParts, Settings

# `ready()` must answer well inside the 5 s a load balancer or an operator waits.
READY_DEADLINE_SECONDS = 4.5


class StoreProbe(Protocol):
    def check(self) -> None:
        """Return if the store answers a trivial query; raise StoreUnavailable otherwise."""


class MemoryProbe:
    def check(self) -> None:
        return None


@dataclass(frozen=True)
class SQLiteProbe:
    path: Path

    def check(self) -> None:
        try:
            connection = sqlite3.connect(self.path, timeout=2)
            try:
                connection.execute("SELECT 1").fetchone()
            finally:
                connection.close()
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite file {self.path} unusable: {error}") from None


@dataclass(frozen=True)
class PostgresProbe:
    database: DatabaseParts
    connect_timeout: float

    def check(self) -> None:
        import psycopg  # deferred: SQLite-only installs never need libpq

        timeout_ms = int(READY_DEADLINE_SECONDS * 1000 / 2)
        try:
            with psycopg.connect(
                host=self.database.host,
                port=self.database.port,
                user=self.database.user,
                password=self.database.password,
                dbname=self.database.dbname,
                # libpq takes whole seconds and treats values below 2 as 2.
                connect_timeout=max(2, min(int(self.connect_timeout), 4)),
                options=f"-c statement_timeout={timeout_ms}",
                autocommit=True,
            ) as connection:
                connection.execute("SELECT 1").fetchone()
        except psycopg.Error as error:
            # libpq nests "connection to server at ... failed: <reason>"; the reason is what counts.
            lines = str(error).strip().splitlines()
            reason = lines[0].rsplit("failed: ", 1)[-1].strip() if lines else ""
            raise StoreUnavailable(
                f"PostgreSQL at {self.database.host}:{self.database.port} unreachable: "
                f"{reason or type(error).__name__}"
            ) from None


def _within_deadline(check: Callable[[], None], seconds: float, what: str) -> None:
    """Run `check` in a helper thread and give up after `seconds`: a half-dead server (accepts,
    never answers) must not hang a readiness probe. The abandoned thread ends on its own
    timeouts."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            check()
        except BaseException as error:  # handed to the caller's thread below
            outcome.append(error)
        else:
            outcome.append(None)

    worker = threading.Thread(target=run, name="store-ready-probe", daemon=True)
    worker.start()
    worker.join(seconds)
    if not outcome:
        raise StoreUnavailable(f"{what} did not answer within {seconds:g} s")
    if outcome[0] is not None:
        raise outcome[0]


def probe_for(settings: Settings) -> StoreProbe:
    database = settings.database
    if database.kind == "memory":
        return MemoryProbe()
    if database.path is not None:
        return SQLiteProbe(database.path)
    return PostgresProbe(database, settings.connect_timeout)


@dataclass
class Services:
    """Everything the API needs, built once per process. Add application services and read
    models as fields; give anything that holds connections a place in `close()`."""

    settings: Settings
    probe: StoreProbe
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _contracts: ContractService | None = field(default=None, repr=False)
    _access_log: BufferedAccessLog | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def contracts(self) -> ContractService:
        """The contract service, built on first use so that starting up never waits for a
        store that is down (`ready()` reports that instead); built once per process."""
        with self._lock:
            if self._contracts is None:
                self._contracts = contract_service(self.settings)
                self._closers.append(self._contracts.close)
            return self._contracts

    @property
    def access_log(self) -> BufferedAccessLog:
        """Who read or wrote which contract; flushed and closed with the services."""
        with self._lock:
            if self._access_log is None:
                self._access_log = BufferedAccessLog(access_log_store(self.settings))
                self._closers.append(self._access_log.close)
            return self._access_log

    def ready(self) -> None:
        """Return if the event store answers; raise StoreUnavailable within ~5 s otherwise."""
        _within_deadline(self.probe.check, READY_DEADLINE_SECONDS, self.settings.database.kind)

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()


def bootstrap(settings: Settings) -> Services:
    database = settings.database
    if database.path is not None:
        # SQLite creates the file but not its folder. If the folder cannot be made, ready()
        # reports the store as unavailable; the process itself still starts.
        with contextlib.suppress(OSError):
            database.path.parent.mkdir(parents=True, exist_ok=True)
    return Services(settings=settings, probe=probe_for(settings))
