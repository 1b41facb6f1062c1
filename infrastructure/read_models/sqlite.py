"""The read models in a SQLite file: the shared tables and statements on SQLite's own terms.

Dates are ISO text, booleans 0/1 and `updated_at` ISO text with its offset. SQLite's BINARY
collation orders text by code point, as Python does."""

# The statements interpolate only the constant table and column names; values are parameters.
# ruff: noqa: S608

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from application.errors import StoreUnavailable
from infrastructure.read_models.rows import Values
from infrastructure.read_models.sql_store import SqlReadModels
from infrastructure.read_models.tables import Dialect, Statements, Table

SQLITE = Dialect(
    types={
        "key": "TEXT",
        "text": "TEXT",
        "smallint": "INTEGER",  # `INTEGER PRIMARY KEY` is SQLite's rowid
        "integer": "INTEGER",
        "bigint": "INTEGER",
        "boolean": "INTEGER",
        "date": "TEXT",
        "timestamp": "TEXT",
    },
    placeholder="?",
    key_placeholder="?",
    lock_row="",  # a write transaction (BEGIN IMMEDIATE) holds the whole file
    contains="instr",
    no_limit=-1,
)


def _iso_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _from_iso_date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _int_bool(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _from_int_bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


SQLITE_VALUES = Values(
    write_date=_iso_date,
    read_date=_from_iso_date,
    write_bool=_int_bool,
    read_bool=_from_int_bool,
    write_instant=datetime.isoformat,
    read_instant=datetime.fromisoformat,
)


class SqliteReadModels(SqlReadModels[sqlite3.Connection]):
    """The read models in a SQLite file (WAL mode), safe to call from many threads.

    Connections are kept in a small pool: a call borrows one, so concurrent readers each have
    their own and never wait for each other; writers serialise on SQLite's write lock
    (`BEGIN IMMEDIATE`), waiting up to `lock_timeout` seconds before StoreUnavailable."""

    def __init__(self, path: str, *, lock_timeout: float) -> None:
        super().__init__(Statements(SQLITE, names=str), SQLITE_VALUES)
        self._path = str(path)
        self._lock_timeout = lock_timeout
        self._guard = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        try:
            with self._connection() as connection:
                # Switching to WAL needs the file to itself for a moment, and SQLite may refuse
                # it at once ("database is locked") while another connection switches too,
                # without waiting on busy_timeout: retried until lock_timeout. The mode is
                # persistent in the file, so this happens once per file.
                self._switch_to_wal(connection)
                with self._transaction(connection):
                    self._create_tables(connection)
        except BaseException:
            self.close()
            raise

    def _switch_to_wal(self, connection: sqlite3.Connection) -> None:
        deadline = time.monotonic() + self._lock_timeout
        while connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                connection.execute("PRAGMA journal_mode = WAL").fetchone()
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    # ---------------------------------------------------------------- connections

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self._path,
            timeout=self._lock_timeout,
            isolation_level=None,  # autocommit; transactions are explicit BEGIN ... COMMIT
            check_same_thread=False,  # borrowed by one thread at a time, from the pool
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {math.ceil(self._lock_timeout * 1000)}")
            # In WAL mode NORMAL cannot corrupt the file; a power cut may lose the last
            # transactions, which only moves the stored position back with them.
            connection.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            connection.close()
            raise
        return connection

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._guard:
                if self._closed:
                    raise StoreUnavailable(f"SQLite read models at {self._path} are closed")
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                connection = self._connect()
        except sqlite3.OperationalError as error:
            raise self._unavailable(error) from None
        healthy = True
        try:
            yield connection
        except sqlite3.OperationalError as error:
            healthy = self._rolled_back(connection)
            raise self._unavailable(error) from None
        except BaseException:
            healthy = self._rolled_back(connection)
            raise
        finally:
            with self._guard:
                keep = healthy and not self._closed
                if keep:
                    self._idle.append(connection)
            if not keep:
                connection.close()

    @staticmethod
    def _rolled_back(connection: sqlite3.Connection) -> bool:
        try:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
        except sqlite3.Error:
            return False
        return True

    def _unavailable(self, error: sqlite3.Error) -> StoreUnavailable:
        return StoreUnavailable(f"SQLite read models at {self._path} unavailable: {error}")

    @contextmanager
    def _transaction(self, connection: sqlite3.Connection) -> Iterator[None]:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        else:
            connection.execute("COMMIT")

    # ---------------------------------------------------------------- bulk writes

    def _write_many(
        self, connection: sqlite3.Connection, statement: str, rows: Sequence[Sequence[Any]]
    ) -> None:
        connection.executemany(statement, rows)

    def _replace_rows(
        self,
        connection: sqlite3.Connection,
        table: Table,
        contract_ids: Sequence[str],
        rows: Iterable[Sequence[Any]],
    ) -> None:
        connection.executemany(
            f"DELETE FROM {table.name} WHERE contract_id = ?", [(key,) for key in contract_ids]
        )
        connection.executemany(
            f"INSERT INTO {table.name} ({', '.join(table.column_names)}) "
            f"VALUES ({', '.join('?' * len(table.columns))})",
            rows,
        )

    def close(self) -> None:
        with self._guard:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
