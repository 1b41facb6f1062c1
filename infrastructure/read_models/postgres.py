"""The read models in PostgreSQL: the shared tables and statements on PostgreSQL's own terms.

Dates are DATE, booleans BOOLEAN and `updated_at` TIMESTAMPTZ (read back in UTC). Columns that
are ordered or compared use COLLATE "C" (byte order of UTF-8 = code point order, as Python
compares strings). PostgreSQL text cannot hold NUL characters."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from application.errors import StoreUnavailable
from infrastructure.read_models.rows import Values
from infrastructure.read_models.sql_store import SqlReadModels
from infrastructure.read_models.tables import PREFIX, Dialect, Statements, Table

if TYPE_CHECKING:  # psycopg is imported lazily: SQLite-only installs never need libpq
    import psycopg
    from psycopg_pool import ConnectionPool

    PgConnection = psycopg.Connection[tuple[Any, ...]]

POSTGRES = Dialect(
    types={
        "key": 'text COLLATE "C"',
        "text": "text",
        "smallint": "smallint",
        "integer": "integer",
        "bigint": "bigint",
        "boolean": "boolean",
        "date": "date",
        "timestamp": "timestamptz",
    },
    placeholder="%s",
    key_placeholder='%s COLLATE "C"',
    lock_row=" FOR UPDATE",
    contains="strpos",
    no_limit=None,
)


def _in_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


POSTGRES_VALUES = Values(read_instant=_in_utc)


def _reason(error: Exception) -> str:
    # libpq nests "connection to server at ... failed: <reason>"; the reason is what counts.
    lines = str(error).strip().splitlines()
    reason = lines[0].rsplit("failed: ", 1)[-1].strip() if lines else ""
    return reason or type(error).__name__


class PostgresReadModels(SqlReadModels["PgConnection"]):
    """The read models in PostgreSQL, through a `psycopg_pool.ConnectionPool`.

    The pool opens in the constructor without waiting; the constructor then creates the tables
    (so it raises StoreUnavailable within about `connect_timeout` seconds when the server is not
    there). A checkout waits at most `connect_timeout` seconds for a connection; every
    operational failure (refused, timed out, dropped, pool closed) surfaces as
    StoreUnavailable with the host, port and database — never the password."""

    def __init__(
        self,
        conninfo: str,
        *,
        pool_size: int,
        connect_timeout: float,
        schema: str | None = None,
    ) -> None:
        import psycopg
        from psycopg import sql
        from psycopg.conninfo import conninfo_to_dict
        from psycopg_pool import ConnectionPool

        def table(name: str) -> str:
            identifier = sql.Identifier(schema, name) if schema else sql.Identifier(name)
            return identifier.as_string()

        super().__init__(Statements(POSTGRES, names=table), POSTGRES_VALUES)
        self._psycopg = psycopg
        self._sql = sql
        try:
            parts = conninfo_to_dict(conninfo)
        except psycopg.ProgrammingError:
            raise ValueError("unparseable PostgreSQL conninfo for the read models") from None
        self._password = str(parts.get("password") or "")
        self._where = (
            f"{parts.get('host') or 'localhost'}:{parts.get('port') or 5432}/"
            f"{parts.get('dbname') or ''}"
        )
        self._schema = schema

        # The pool answers a dead server with "couldn't get a connection after N sec"; the
        # reason (refused, password, timeout) is in the last attempt of its background workers.
        self._last_connect_error: psycopg.Error | None = None
        store = self

        class RecordingConnection(psycopg.Connection[tuple[Any, ...]]):
            @classmethod
            def connect(cls, *args: Any, **kwargs: Any) -> RecordingConnection:
                try:
                    connection = super().connect(*args, **kwargs)
                except psycopg.Error as error:
                    store._last_connect_error = error
                    raise
                store._last_connect_error = None
                return connection

        self._pool: ConnectionPool[PgConnection] = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max(1, pool_size),
            timeout=connect_timeout,
            # libpq takes whole seconds and treats values below 2 as 2.
            kwargs={"autocommit": True, "connect_timeout": max(2, math.ceil(connect_timeout))},
            connection_class=RecordingConnection,
            check=ConnectionPool.check_connection,  # a server restart costs no failed call
            name=f"dialoog-read-models-{self._where}",
            open=False,
        )
        try:
            self._pool.open(wait=False)
            self._setup()
        except BaseException:
            self._pool.close(timeout=0.5)
            raise

    # ---------------------------------------------------------------- connections

    @contextmanager
    def _connection(self) -> Iterator[PgConnection]:
        psycopg = self._psycopg
        try:
            with self._pool.connection() as connection:
                yield connection
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            # PoolTimeout and PoolClosed are OperationalErrors too.
            raise self._unavailable(error) from None

    def _unavailable(self, error: Exception) -> StoreUnavailable:
        from psycopg_pool import PoolTimeout

        reason = _reason(error)
        last = self._last_connect_error
        if isinstance(error, PoolTimeout) and last is not None:
            reason = f"{_reason(last)} ({reason})"
        if self._password:
            reason = reason.replace(self._password, "***")
        return StoreUnavailable(f"PostgreSQL read models at {self._where} unavailable: {reason}")

    @contextmanager
    def _transaction(self, connection: PgConnection) -> Iterator[None]:
        with connection.transaction():
            yield

    def _setup(self) -> None:
        sql = self._sql
        with self._connection() as connection, connection.transaction():
            # CREATE ... IF NOT EXISTS is not safe against a concurrent twin (both may pass the
            # check, one fails on pg_type's unique index): serialise the setups of all processes.
            connection.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                (f"{PREFIX}schema:{self._schema or ''}",),
            )
            if self._schema:
                connection.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self._schema))
                )
            self._create_tables(connection)

    # ---------------------------------------------------------------- bulk writes

    def _write_many(
        self, connection: PgConnection, statement: str, rows: Sequence[Sequence[Any]]
    ) -> None:
        with connection.cursor() as cursor:
            cursor.executemany(statement, rows)

    def _replace_rows(
        self,
        connection: PgConnection,
        table: Table,
        contract_ids: Sequence[str],
        rows: Iterable[Sequence[Any]],
    ) -> None:
        sql = self._sql
        name = sql.SQL(self._statements.names[table.name])
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE contract_id = ANY(%s)").format(name),
                (list(contract_ids),),
            )
            columns = sql.SQL(", ").join(map(sql.Identifier, table.column_names))
            with cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(name, columns)) as copy:
                for row in rows:
                    copy.write_row(row)

    def close(self) -> None:
        self._pool.close()
