"""The composition root: turns a `Settings` into the running services, once.

The CLI, the app factory and the tests all call `bootstrap(settings)`; tests pass other
settings. Nothing here connects at import time."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from application.checkpoints import Checkpointer
from application.errors import InvalidQuery, StoreUnavailable
from application.service import ContractService
from application.transparency_log import LogStore
from application.webhooks import WebhookStore
from application.witnesses import Witnesses, WitnessStore
from infrastructure.access_log import BufferedAccessLog, access_log_store
from infrastructure.log_key import log_signer
from infrastructure.runner import (
    FileLeadership,
    Leadership,
    PostgresLeadership,
    Runner,
    SoleLeadership,
)
from infrastructure.settings import DatabaseParts, Settings
from infrastructure.stores import contract_service
from infrastructure.webhooks import Deliverer, webhook_store

# `ready()` must answer well inside the 5 s a load balancer or an operator waits.
READY_DEADLINE_SECONDS = 4.5


class StoreProbe(Protocol):
    def check(self) -> None:
        """Return if the store answers a trivial query; raise StoreUnavailable otherwise."""


class MemoryProbe:
    def check(self) -> None:
        return None


#: The columns the library's event tables have: a table of that name without them is a schema
#: this service does not recognise.
EVENT_COLUMNS = ("originator_id", "originator_version", "topic", "state")
SQLITE_EVENTS_TABLE = "stored_events"
POSTGRES_EVENTS_TABLE = "dialoog_events"


class StoreUnusable(StoreUnavailable):
    """The store answers but is not one this service can use: not a database, or a schema it
    does not recognise. `serve` refuses to start on it; `/readyz` is a 503."""


@dataclass(frozen=True)
class SQLiteProbe:
    path: Path

    def check(self) -> None:
        """The events table can be read (or does not exist yet, in an empty database)."""
        try:
            connection = sqlite3.connect(self.path, timeout=2)
            try:
                tables = {
                    row[0]
                    for row in connection.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table'"
                    )
                }
                if SQLITE_EVENTS_TABLE in tables:
                    columns = ", ".join(EVENT_COLUMNS)
                    connection.execute(
                        f"SELECT {columns} FROM {SQLITE_EVENTS_TABLE} LIMIT 1"  # noqa: S608
                    ).fetchall()
            finally:
                connection.close()
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "busy" in str(error):
                raise StoreUnavailable(f"SQLite file {self.path} is locked: {error}") from None
            raise _unusable(f"SQLite file {self.path}", error) from None
        except sqlite3.Error as error:
            # "file is not a database", a damaged file, a schema the library never made.
            raise _unusable(f"SQLite file {self.path}", error) from None


def _unusable(what: str, error: BaseException) -> StoreUnusable:
    return StoreUnusable(f"{what} is not an event store this service recognises: {error}")


@dataclass(frozen=True)
class PostgresProbe:
    database: DatabaseParts
    connect_timeout: float

    def check(self) -> None:
        """The events table can be read within the deadline (a lock held elsewhere, e.g. an
        ACCESS EXCLUSIVE lock of a migration or a VACUUM FULL, makes it unready)."""
        import psycopg  # deferred: SQLite-only installs never need libpq
        from psycopg import errors as pg_errors

        timeout_ms = int(READY_DEADLINE_SECONDS * 1000 / 2)
        lock_ms = int(READY_DEADLINE_SECONDS * 1000 / 4)
        try:
            with psycopg.connect(
                host=self.database.host,
                port=self.database.port,
                user=self.database.user,
                password=self.database.password,
                dbname=self.database.dbname,
                # libpq takes whole seconds and treats values below 2 as 2.
                connect_timeout=max(2, min(int(self.connect_timeout), 4)),
                options=f"-c statement_timeout={timeout_ms} -c lock_timeout={lock_ms}",
                autocommit=True,
            ) as connection:
                exists = connection.execute(
                    "SELECT to_regclass(%s) IS NOT NULL", (f"public.{POSTGRES_EVENTS_TABLE}",)
                ).fetchone()
                if exists and exists[0]:
                    columns = ", ".join(EVENT_COLUMNS)
                    connection.execute(
                        f"SELECT {columns} FROM {POSTGRES_EVENTS_TABLE} LIMIT 1"  # noqa: S608
                    ).fetchall()
        except (pg_errors.UndefinedColumn, pg_errors.WrongObjectType) as error:
            raise _unusable(f"PostgreSQL table {POSTGRES_EVENTS_TABLE}", error) from None
        except psycopg.Error as error:
            # libpq nests "connection to server at ... failed: <reason>"; the reason is what counts.
            lines = str(error).strip().splitlines()
            reason = lines[0].rsplit("failed: ", 1)[-1].strip() if lines else ""
            raise StoreUnavailable(
                f"PostgreSQL at {self.database.host}:{self.database.port} not ready: "
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
    _checkpoints: Checkpointer | None = field(default=None, repr=False)
    _witnesses: Witnesses | None = field(default=None, repr=False)
    _webhooks: WebhookStore | None = field(default=None, repr=False)
    _deliverer: Deliverer | None = field(default=None, repr=False)
    _runner: Runner | None = field(default=None, repr=False)
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
    def built_contracts(self) -> ContractService | None:
        """The contract service if it was built already (never builds it)."""
        return self._contracts

    @property
    def checkpoints(self) -> Checkpointer:
        """The transparency log's signed checkpoints (key from the settings or the data dir)."""
        contracts = self.contracts
        with self._lock:
            if self._checkpoints is None:
                store = contracts.recorder
                if not isinstance(store, LogStore):
                    raise InvalidQuery("this event store keeps no transparency log")
                self._checkpoints = Checkpointer(
                    store,
                    log_signer(self.settings),
                    origin=self.settings.log_origin,
                    interval=self.settings.log_checkpoint_interval,
                )
            return self._checkpoints

    @property
    def witnesses(self) -> Witnesses:
        checkpoints = self.checkpoints
        with self._lock:
            if self._witnesses is None:
                store = checkpoints.store
                if not isinstance(store, WitnessStore):
                    raise InvalidQuery("this event store keeps no witnesses")
                self._witnesses = Witnesses(store, checkpoints)
            return self._witnesses

    @property
    def access_log(self) -> BufferedAccessLog:
        """Who read or wrote which contract; flushed and closed with the services."""
        with self._lock:
            if self._access_log is None:
                self._access_log = BufferedAccessLog(access_log_store(self.settings))
                self._closers.append(self._access_log.close)
            return self._access_log

    @property
    def webhooks(self) -> WebhookStore:
        """Webhook subscriptions and their deliveries, beside the events."""
        with self._lock:
            if self._webhooks is None:
                self._webhooks = webhook_store(self.settings)
                self._closers.append(self._webhooks.close)
            return self._webhooks

    def start_runner(self) -> Runner:
        """This process's runner (infrastructure/runner.py), a thread of its own (never in a
        request): webhook deliveries and the read models' catch-up, done by one process of
        all on the store at a time; stopped with the services."""
        store = self.webhooks
        with self._lock:
            if self._runner is None:
                self._deliverer = Deliverer(store, lambda: self.contracts, self.settings)
                tasks: list[tuple[str, Callable[[], object]]] = [
                    ("webhook delivery", self._deliverer.run_once),
                    ("read-model catch-up", self._catch_up_read_models),
                ]
                self._runner = Runner(
                    leadership(self.settings), tasks, self.settings.webhooks_poll_seconds
                )
                self._runner.start()
            return self._runner

    def _catch_up_read_models(self) -> None:
        projection = self.contracts.projection
        if projection is not None:
            projection.catch_up()

    def wake_webhooks(self) -> None:
        """Look for webhooks to deliver now rather than at the next poll (if this process is
        the runner; otherwise the runner's next look finds them)."""
        if self._runner is not None:
            self._runner.wake()

    def ready(self) -> None:
        """Return if the event store answers; raise StoreUnavailable within ~5 s otherwise."""
        _within_deadline(self.probe.check, READY_DEADLINE_SECONDS, self.settings.database.kind)

    def close(self) -> None:
        if self._runner is not None:  # first: it reads the events and writes the store
            if self._deliverer is not None:
                self._deliverer.stop()
            self._runner.close(timeout=self.settings.webhooks_timeout + 5)
            self._runner = None
        if self._deliverer is not None:
            self._deliverer.close()
            self._deliverer = None
        while self._closers:
            self._closers.pop()()


def leadership(settings: Settings) -> Leadership:
    """How this process takes its turn as the runner on the configured store."""
    database = settings.database
    if database.kind == "memory":
        return SoleLeadership()
    if database.path is not None:
        return FileLeadership(database.path.with_name(database.path.name + ".runner.lock"))
    return PostgresLeadership(database, settings.connect_timeout)


def bootstrap(settings: Settings) -> Services:
    database = settings.database
    if database.path is not None:
        # SQLite creates the file but not its folder. If the folder cannot be made, ready()
        # reports the store as unavailable; the process itself still starts.
        with contextlib.suppress(OSError):
            private_file(database.path)
    return Services(settings=settings, probe=probe_for(settings))


def private_folder(path: Path) -> None:
    """Make `path` (and missing parents) readable by this user only (0700) when it is new."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)


def private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 (in a 0700 folder) unless it exists, so the data
    never sits world-readable, not even for a moment. SQLite gives its -wal and -shm files the
    mode of the database file."""
    private_folder(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
