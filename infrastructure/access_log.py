"""The access log's stores: in memory, SQLite and PostgreSQL, each append-only, and a buffer
that keeps the writes off a request's latency path.

Append-only is enforced by the database, not by good manners: PostgreSQL has a trigger that
raises on UPDATE, DELETE and TRUNCATE; SQLite has triggers that RAISE(ABORT) on UPDATE and
DELETE. Whoever owns the table can still drop the triggers or the table: the log protects
against mistakes and against the application's own accounts, not against the database owner
(see docs/OPERATIONS.md).

What a crash can lose: entries wait in `BufferedAccessLog` for at most `interval` seconds (and
while the store is down, up to `capacity` entries) before they are written; a process killed
with SIGKILL loses those. A normal shutdown flushes them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from application.access_log import AccessEntry, AccessLogStore, AccessQuery
from infrastructure import metrics
from infrastructure.settings import Settings, side_conninfo

log = logging.getLogger("dialoog.access_log")

TABLE = "dialoog_access_log"


def _matches(entry: AccessEntry, query: AccessQuery) -> bool:
    if entry.id <= query.after:
        return False
    if query.contract_id is not None and entry.contract_id != query.contract_id:
        return False
    return entry.organisation == query.organisation or entry.contract_id in query.commissioned


class MemoryAccessLog:
    """For memory:// (tests, demos): forgotten with the process, like the events."""

    def __init__(self) -> None:
        self._entries: list[AccessEntry] = []
        self._lock = threading.Lock()

    def append(self, entries: Sequence[AccessEntry]) -> None:
        with self._lock:
            for entry in entries:
                self._entries.append(_with_id(entry, len(self._entries) + 1))

    def entries(self, query: AccessQuery) -> list[AccessEntry]:
        with self._lock:
            return [e for e in self._entries if _matches(e, query)][: query.limit]

    def close(self) -> None:
        return None


def _with_id(entry: AccessEntry, id_: int) -> AccessEntry:
    return AccessEntry(
        at=entry.at,
        subject=entry.subject,
        organisation=entry.organisation,
        roles=entry.roles,
        contract_id=entry.contract_id,
        operation=entry.operation,
        status=entry.status,
        trace_id=entry.trace_id,
        id=id_,
    )


_COLUMNS = "at, subject, organisation, roles, contract_id, operation, status, trace_id"

_SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    subject TEXT NOT NULL,
    organisation TEXT NOT NULL,
    roles TEXT NOT NULL,
    contract_id TEXT,
    operation TEXT NOT NULL,
    status INTEGER NOT NULL,
    trace_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {TABLE}_organisation ON {TABLE} (organisation, id);
CREATE INDEX IF NOT EXISTS {TABLE}_contract ON {TABLE} (contract_id, id);
CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE}
BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS {TABLE}_no_delete BEFORE DELETE ON {TABLE}
BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
"""


def _row(entry: AccessEntry, at: Any) -> tuple[Any, ...]:
    return (
        at,
        entry.subject,
        entry.organisation,
        entry.roles,
        entry.contract_id,
        entry.operation,
        entry.status,
        entry.trace_id,
    )


def _entry(row: Sequence[Any]) -> AccessEntry:
    id_, at, subject, organisation, roles, contract_id, operation, status, trace_id = row
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return AccessEntry(
        at=at.astimezone(UTC),
        subject=subject,
        organisation=organisation,
        roles=roles,
        contract_id=contract_id,
        operation=operation,
        status=int(status),
        trace_id=trace_id,
        id=int(id_),
    )


class SqliteAccessLog:
    """A table in the events' SQLite file."""

    def __init__(self, path: str, *, lock_timeout: float) -> None:
        self._path = path
        self._timeout = lock_timeout
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, timeout=self._timeout)
        if not self._ready:
            with connection:
                connection.executescript(_SQLITE_SCHEMA)
            self._ready = True
        return connection

    def append(self, entries: Sequence[AccessEntry]) -> None:
        connection = self._connect()
        try:
            with connection:
                connection.executemany(
                    f"INSERT INTO {TABLE} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                    [_row(e, e.at.astimezone(UTC).isoformat()) for e in entries],
                )
        finally:
            connection.close()

    def entries(self, query: AccessQuery) -> list[AccessEntry]:
        sql = (
            f"SELECT id, {_COLUMNS} FROM {TABLE} WHERE id > ? "  # noqa: S608
            "AND (organisation = ? OR contract_id IN (SELECT value FROM json_each(?)))"
        )
        commissioned = json.dumps(sorted(query.commissioned))
        params: list[Any] = [query.after, query.organisation, commissioned]
        if query.contract_id is not None:
            sql += " AND contract_id = ?"
            params.append(query.contract_id)
        sql += " ORDER BY id LIMIT ?"
        params.append(query.limit)
        connection = self._connect()
        try:
            return [_entry(row) for row in connection.execute(sql, params)]
        finally:
            connection.close()

    def close(self) -> None:
        return None


_POSTGRES_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    subject TEXT NOT NULL,
    organisation TEXT NOT NULL,
    roles TEXT NOT NULL,
    contract_id TEXT,
    operation TEXT NOT NULL,
    status SMALLINT NOT NULL,
    trace_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {TABLE}_organisation ON {TABLE} (organisation, id);
CREATE INDEX IF NOT EXISTS {TABLE}_contract ON {TABLE} (contract_id, id);
CREATE OR REPLACE FUNCTION {TABLE}_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the access log is append-only (% refused)', TG_OP;
END $$;
CREATE OR REPLACE TRIGGER {TABLE}_no_change BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION {TABLE}_refuse();
CREATE OR REPLACE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_refuse();
"""
#: Serialises the schema set-up of several workers starting at once.
_SCHEMA_LOCK_KEY = 0x6469616C6F6F67  # "dialoog"


class PostgresAccessLog:
    """A table in the events' PostgreSQL database. The batches are written over one connection
    kept open (`append` is only called under the buffer's flush lock; a connection that failed
    is dropped and the next batch opens a new one): opening one per batch cost a PostgreSQL
    backend start several times a second per worker. Reads, which are rare, open their own."""

    def __init__(self, conninfo: str, *, connect_timeout: float) -> None:
        self._conninfo = conninfo
        self._connect_timeout = max(2, int(connect_timeout))
        self._ready = False
        self._writer: Any | None = None

    def _connect(self) -> Any:
        import psycopg

        connection = psycopg.connect(self._conninfo, connect_timeout=self._connect_timeout)
        if not self._ready:
            with connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
                connection.execute(_POSTGRES_SCHEMA)
            self._ready = True
        return connection

    def append(self, entries: Sequence[AccessEntry]) -> None:
        if self._writer is None or self._writer.closed:
            self._writer = self._connect()
        connection = self._writer
        try:
            with connection.transaction(), connection.cursor() as cursor:
                # Ids become visible in commit order, so an auditor paging by id skips nothing.
                cursor.execute(f"LOCK TABLE {TABLE} IN SHARE ROW EXCLUSIVE MODE")
                cursor.executemany(
                    f"INSERT INTO {TABLE} ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
                    [_row(e, e.at) for e in entries],
                )
        except BaseException:
            self._writer = None
            with contextlib.suppress(Exception):
                connection.close()
            raise

    def entries(self, query: AccessQuery) -> list[AccessEntry]:
        sql = (
            f"SELECT id, {_COLUMNS} FROM {TABLE} WHERE id > %s "  # noqa: S608
            "AND (organisation = %s OR contract_id = ANY(%s))"
        )
        params: list[Any] = [query.after, query.organisation, sorted(query.commissioned)]
        if query.contract_id is not None:
            sql += " AND contract_id = %s"
            params.append(query.contract_id)
        sql += " ORDER BY id LIMIT %s"
        params.append(query.limit)
        with self._connect() as connection:
            return [_entry(row) for row in connection.execute(sql, params)]

    def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()


class BufferedAccessLog:
    """Takes entries without waiting (`record` never blocks a request) and writes them in
    batches from a background thread, at least every `interval` seconds. Reads flush first, so
    an auditor sees every entry recorded before the read. While the store is down, entries wait
    (up to `capacity`; past that the oldest are dropped, counted and logged)."""

    def __init__(
        self,
        store: AccessLogStore,
        *,
        capacity: int = 10_000,
        batch_size: int = 500,
        interval: float = 0.2,
    ) -> None:
        self.store = store
        self._queue: queue.Queue[AccessEntry] = queue.Queue(capacity)
        self._capacity = capacity
        self._batch_size = batch_size
        self._interval = interval
        self._pending: list[AccessEntry] = []
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def record(self, entry: AccessEntry) -> None:
        self._ensure_thread()
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            metrics.ACCESS_LOG_DROPPED.inc()
            log.warning("access log buffer full: an entry was dropped")

    def entries(self, query: AccessQuery) -> list[AccessEntry]:
        self.flush()
        return self.store.entries(query)

    def flush(self) -> None:
        """Write every entry recorded so far; raise if the store refuses (they stay pending)."""
        with self._flush_lock:
            while True:
                try:
                    self._pending.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            overflow = len(self._pending) - self._capacity
            if overflow > 0:
                del self._pending[:overflow]
                metrics.ACCESS_LOG_DROPPED.inc(overflow)
                log.warning("access log store unreachable: %d entries dropped", overflow)
            while self._pending:
                batch = self._pending[: self._batch_size]
                self.store.append(batch)
                del self._pending[: len(batch)]

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.flush()
        except Exception:
            log.exception("access log: entries could not be written at shutdown")
        self.store.close()

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="access-log-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.flush()
            except Exception as error:  # the store is down: keep the entries, try again
                log.warning("access log: write failed, will retry (%s)", type(error).__name__)


def access_log_store(settings: Settings) -> AccessLogStore:
    """The access log beside the events: the same SQLite file or PostgreSQL database."""
    database = settings.database
    if database.kind == "memory":
        return MemoryAccessLog()
    if database.path is not None:
        return SqliteAccessLog(str(database.path), lock_timeout=settings.lock_timeout)
    conninfo = side_conninfo(settings)
    return PostgresAccessLog(conninfo, connect_timeout=settings.connect_timeout)
