"""The read models (`application.read_models.ReadModelStore`) on SQLite and PostgreSQL.

Both behave exactly like `MemoryReadModels`; the differences are only in how they store rows.

Tables (every name starts with `dialoog_rm_`, so they can share a database with the events):

* `dialoog_rm_position`  — one row (id = 1): the last notification id folded into the views.
* `dialoog_rm_summaries` — one row per contract. `reference_folded` and `title_folded` hold the
  `str.casefold()` of reference and title, computed in Python on write, so the text filter is
  Python's own case-insensitive substring match on every backend (SQL `lower()`/`ILIKE` differ
  from `casefold()`, e.g. for "ß").
* `dialoog_rm_parties`   — (contract_id, role, ordinal, org): the commissioner (role
  'commissioner') and the providers in the order given (role 'provider'); the visibility filter
  is one indexed lookup on (org, contract_id).
* `dialoog_rm_indicators` — the dashboard rows of each contract, in the order given (ordinal).

Values: Decimals are stored as their `str()` in TEXT columns (also on PostgreSQL: NUMERIC would
turn Decimal('1E+3') into Decimal('1000') and Decimal('-0') into Decimal('0'), and a huge
exponent a client got past the domain would make the projection fail forever); dates as DATE on
PostgreSQL and ISO text on SQLite; `updated_at` as TIMESTAMPTZ (read back in UTC) on PostgreSQL
and ISO text with its offset on SQLite. Naive datetimes are refused.

Ordering and cursors compare strings by code point, as Python does: PostgreSQL columns that are
ordered or compared use COLLATE "C" (byte order of UTF-8 = code point order), SQLite's BINARY
collation is the same. PostgreSQL text cannot hold NUL characters.
"""

# The SQLite statements are f-strings, but they interpolate only this module's constant table
# and column names; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from application.errors import StoreUnavailable
from application.read_models import ContractSummary, IndicatorRow, SummaryFilter

if TYPE_CHECKING:  # psycopg is imported lazily: SQLite-only installs never need libpq
    import psycopg
    from psycopg.sql import Composable
    from psycopg_pool import ConnectionPool

PREFIX = "dialoog_rm_"
POSITION = PREFIX + "position"
SUMMARIES = PREFIX + "summaries"
PARTIES = PREFIX + "parties"
INDICATORS = PREFIX + "indicators"

_SUMMARY_COLUMNS = (
    "contract_id",
    "reference",
    "title",
    "status",
    "commissioner",
    "version",
    "updated_at",
    "head_digest",
    "reference_folded",
    "title_folded",
)
_INDICATOR_COLUMNS = (
    "contract_id",
    "ordinal",
    "indicator_id",
    "name",
    "version",
    "unit",
    "direction",
    "active",
    "baseline_value",
    "baseline_measured_on",
    "target_value",
    "target_due_on",
    "latest_value",
    "latest_period_end",
    "on_track",
)
# What `summaries()` selects: the summary columns a ContractSummary needs, then one provider.
_PAGE_COLUMNS = _SUMMARY_COLUMNS[:8]


# --------------------------------------------------------------------------- shared helpers


def _latest_per_contract(summaries: Sequence[ContractSummary]) -> list[ContractSummary]:
    """The last summary given for each contract (later ones win, as in memory)."""
    latest = {summary.contract_id: summary for summary in summaries}
    for summary in latest.values():
        if summary.updated_at.tzinfo is None or summary.updated_at.utcoffset() is None:
            raise ValueError(
                f"summary of {summary.contract_id}: updated_at must be timezone-aware, "
                f"got {summary.updated_at!r}"
            )
    return list(latest.values())


def _party_rows(summary: ContractSummary) -> Iterator[tuple[str, str, int, str]]:
    yield summary.contract_id, "commissioner", 0, summary.commissioner
    for ordinal, provider in enumerate(summary.providers):
        yield summary.contract_id, "provider", ordinal, provider


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def indicator_row(
    row: Sequence[Any], *, read_date: Callable[[Any], Any], read_bool: Callable[[Any], Any]
) -> IndicatorRow:
    """A dashboard row from `_INDICATOR_COLUMNS`; each backend says how it stores dates and
    booleans (SQLite: ISO text and 0/1; PostgreSQL: native types)."""
    return IndicatorRow(
        contract_id=row[0],
        indicator_id=row[2],
        name=row[3],
        version=row[4],
        unit=row[5],
        direction=row[6],
        active=bool(read_bool(row[7])),
        baseline_value=_decimal(row[8]),
        baseline_measured_on=read_date(row[9]),
        target_value=_decimal(row[10]),
        target_due_on=read_date(row[11]),
        latest_value=_decimal(row[12]),
        latest_period_end=read_date(row[13]),
        on_track=read_bool(row[14]),
    )


def _iso_date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _as_is(value: Any) -> Any:
    return value


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _group_page(rows: Iterable[Sequence[Any]], summary: Any) -> list[ContractSummary]:
    """Rows of (summary columns..., provider or NULL), ordered by contract then provider
    ordinal, folded into summaries; `summary` builds one from the first row and providers."""
    result: list[ContractSummary] = []
    current: Sequence[Any] | None = None
    providers: list[str] = []
    for row in rows:
        if current is None or row[0] != current[0]:
            if current is not None:
                result.append(summary(current, tuple(providers)))
            current, providers = row, []
        if row[-1] is not None:
            providers.append(row[-1])
    if current is not None:
        result.append(summary(current, tuple(providers)))
    return result


def _limit(query: SummaryFilter) -> int | None:
    # MemoryReadModels stops when it has `limit` rows, so a limit <= 0 never stops it.
    return query.limit if query.limit > 0 else None


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# --------------------------------------------------------------------------- SQLite

_SQLITE_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {POSITION} (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        position INTEGER NOT NULL
    )""",
    f"INSERT OR IGNORE INTO {POSITION} (id, position) VALUES (1, 0)",
    f"""CREATE TABLE IF NOT EXISTS {SUMMARIES} (
        contract_id TEXT PRIMARY KEY,
        reference TEXT NOT NULL,
        title TEXT NOT NULL,
        status TEXT NOT NULL,
        commissioner TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        head_digest TEXT NOT NULL,
        reference_folded TEXT NOT NULL,
        title_folded TEXT NOT NULL
    )""",
    f"""CREATE INDEX IF NOT EXISTS {SUMMARIES}_by_reference
        ON {SUMMARIES} (reference, contract_id)""",
    f"""CREATE INDEX IF NOT EXISTS {SUMMARIES}_by_status
        ON {SUMMARIES} (status, reference, contract_id)""",
    f"""CREATE TABLE IF NOT EXISTS {PARTIES} (
        contract_id TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('commissioner', 'provider')),
        ordinal INTEGER NOT NULL,
        org TEXT NOT NULL,
        PRIMARY KEY (contract_id, role, ordinal)
    )""",
    f"CREATE INDEX IF NOT EXISTS {PARTIES}_by_org ON {PARTIES} (org, contract_id)",
    f"""CREATE TABLE IF NOT EXISTS {INDICATORS} (
        contract_id TEXT NOT NULL,
        ordinal INTEGER NOT NULL,
        indicator_id TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        unit TEXT NOT NULL,
        direction TEXT NOT NULL,
        active INTEGER NOT NULL,
        baseline_value TEXT,
        baseline_measured_on TEXT,
        target_value TEXT,
        target_due_on TEXT,
        latest_value TEXT,
        latest_period_end TEXT,
        on_track INTEGER,
        PRIMARY KEY (contract_id, ordinal)
    )""",
)


def _sqlite_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _sqlite_bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def _sqlite_summary(row: Sequence[Any], providers: tuple[str, ...]) -> ContractSummary:
    return ContractSummary(
        contract_id=row[0],
        reference=row[1],
        title=row[2],
        status=row[3],
        commissioner=row[4],
        providers=providers,
        version=row[5],
        updated_at=datetime.fromisoformat(row[6]),
        head_digest=row[7],
    )


class SqliteReadModels:
    """The read models in a SQLite file (WAL mode), safe to call from many threads.

    Connections are kept in a small pool: a call borrows one, so concurrent readers each have
    their own and never wait for each other; writers serialise on SQLite's write lock
    (`BEGIN IMMEDIATE`), waiting up to `lock_timeout` seconds before StoreUnavailable."""

    def __init__(self, path: str, *, lock_timeout: float) -> None:
        self._path = str(path)
        self._lock_timeout = lock_timeout
        self._guard = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        try:
            with self._connection() as connection:
                # Switching to WAL needs the file to itself for a moment; busy_timeout covers a
                # second process doing the same. The mode is persistent in the file.
                connection.execute("PRAGMA journal_mode = WAL").fetchone()
                with self._write(connection):
                    for statement in _SQLITE_SCHEMA:
                        connection.execute(statement)
        except BaseException:
            self.close()
            raise

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
    def _write(self, connection: sqlite3.Connection) -> Iterator[None]:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        else:
            connection.execute("COMMIT")

    # ---------------------------------------------------------------- the protocol

    def position(self) -> int:
        with self._connection() as connection:
            row = connection.execute(f"SELECT position FROM {POSITION} WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def advance(
        self,
        from_position: int,
        to_position: int,
        summaries: Sequence[ContractSummary],
        indicators: dict[str, list[IndicatorRow]],
    ) -> bool:
        latest = _latest_per_contract(summaries)
        with self._connection() as connection, self._write(connection):
            row = connection.execute(f"SELECT position FROM {POSITION} WHERE id = 1").fetchone()
            if (int(row[0]) if row else 0) != from_position:
                return False
            self._write_summaries(connection, latest)
            self._write_indicators(connection, indicators)
            connection.execute(
                f"INSERT INTO {POSITION} (id, position) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET position = excluded.position",
                (to_position,),
            )
            return True

    @staticmethod
    def _write_summaries(
        connection: sqlite3.Connection, summaries: Sequence[ContractSummary]
    ) -> None:
        columns = ", ".join(_SUMMARY_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _SUMMARY_COLUMNS[1:])
        connection.executemany(
            f"INSERT INTO {SUMMARIES} ({columns}) VALUES ({', '.join('?' * 10)}) "
            f"ON CONFLICT (contract_id) DO UPDATE SET {updates}",
            [
                (
                    s.contract_id,
                    s.reference,
                    s.title,
                    s.status,
                    s.commissioner,
                    s.version,
                    s.updated_at.isoformat(),
                    s.head_digest,
                    s.reference.casefold(),
                    s.title.casefold(),
                )
                for s in summaries
            ],
        )
        connection.executemany(
            f"DELETE FROM {PARTIES} WHERE contract_id = ?", [(s.contract_id,) for s in summaries]
        )
        connection.executemany(
            f"INSERT INTO {PARTIES} (contract_id, role, ordinal, org) VALUES (?, ?, ?, ?)",
            [party for s in summaries for party in _party_rows(s)],
        )

    @staticmethod
    def _write_indicators(
        connection: sqlite3.Connection, indicators: dict[str, list[IndicatorRow]]
    ) -> None:
        connection.executemany(
            f"DELETE FROM {INDICATORS} WHERE contract_id = ?", [(key,) for key in indicators]
        )
        connection.executemany(
            f"INSERT INTO {INDICATORS} ({', '.join(_INDICATOR_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_INDICATOR_COLUMNS))})",
            [
                (
                    key,
                    ordinal,
                    r.indicator_id,
                    r.name,
                    r.version,
                    r.unit,
                    r.direction,
                    int(r.active),
                    _decimal_text(r.baseline_value),
                    _sqlite_date(r.baseline_measured_on),
                    _decimal_text(r.target_value),
                    _sqlite_date(r.target_due_on),
                    _decimal_text(r.latest_value),
                    _sqlite_date(r.latest_period_end),
                    None if r.on_track is None else int(r.on_track),
                )
                for key, rows in indicators.items()
                for ordinal, r in enumerate(rows)
            ],
        )

    def summaries(self, query: SummaryFilter) -> list[ContractSummary]:
        conditions: list[str] = []
        parameters: list[Any] = []
        if query.after is not None:
            conditions.append("(s.reference, s.contract_id) > (?, ?)")
            parameters.extend(query.after)
        if query.visible_to is not None:
            conditions.append(
                f"EXISTS (SELECT 1 FROM {PARTIES} p "
                "WHERE p.org = ? AND p.contract_id = s.contract_id)"
            )
            parameters.append(query.visible_to)
        if query.status is not None:
            conditions.append("s.status = ?")
            parameters.append(query.status)
        text = (query.text or "").casefold()
        if text:
            conditions.append("(instr(s.reference_folded, ?) > 0 OR instr(s.title_folded, ?) > 0)")
            parameters.extend((text, text))
        limit = _limit(query)
        parameters.append(-1 if limit is None else limit)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        page_columns = ", ".join(f"s.{c}" for c in _PAGE_COLUMNS)
        statement = f"""
            WITH page AS (
                SELECT {page_columns} FROM {SUMMARIES} s {where}
                ORDER BY s.reference, s.contract_id LIMIT ?
            )
            SELECT page.*, p.org FROM page
            LEFT JOIN {PARTIES} p ON p.contract_id = page.contract_id AND p.role = 'provider'
            ORDER BY page.reference, page.contract_id, p.ordinal
        """
        with self._connection() as connection:
            rows = connection.execute(statement, parameters).fetchall()
        return _group_page(rows, _sqlite_summary)

    def indicators(self, contract_id: str) -> list[IndicatorRow]:
        with self._connection() as connection:
            rows = connection.execute(
                f"SELECT {', '.join(_INDICATOR_COLUMNS)} FROM {INDICATORS} "
                "WHERE contract_id = ? ORDER BY ordinal",
                (contract_id,),
            ).fetchall()
        return [indicator_row(row, read_date=_iso_date, read_bool=_sqlite_bool) for row in rows]

    def clear(self) -> None:
        with self._connection() as connection, self._write(connection):
            for table in (SUMMARIES, PARTIES, INDICATORS):
                connection.execute(f"DELETE FROM {table}")
            connection.execute(f"UPDATE {POSITION} SET position = 0 WHERE id = 1")

    def close(self) -> None:
        with self._guard:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


# --------------------------------------------------------------------------- PostgreSQL


def _reason(error: Exception) -> str:
    # libpq nests "connection to server at ... failed: <reason>"; the reason is what counts.
    lines = str(error).strip().splitlines()
    reason = lines[0].rsplit("failed: ", 1)[-1].strip() if lines else ""
    return reason or type(error).__name__


def _pg_summary(row: Sequence[Any], providers: tuple[str, ...]) -> ContractSummary:
    return ContractSummary(
        contract_id=row[0],
        reference=row[1],
        title=row[2],
        status=row[3],
        commissioner=row[4],
        providers=providers,
        version=row[5],
        updated_at=row[6].astimezone(UTC),
        head_digest=row[7],
    )


class PostgresReadModels:
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

        def table(name: str) -> sql.Identifier:
            return sql.Identifier(schema, name) if schema else sql.Identifier(name)

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

        self._position, self._summaries = table(POSITION), table(SUMMARIES)
        self._parties, self._indicators = table(PARTIES), table(INDICATORS)
        self._pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
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
            self._create_tables()
        except BaseException:
            self._pool.close(timeout=0.5)
            raise

    # ---------------------------------------------------------------- connections

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
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

    def _create_tables(self) -> None:
        sql = self._sql
        statements = [
            sql.SQL("""CREATE TABLE IF NOT EXISTS {} (
                id smallint PRIMARY KEY CHECK (id = 1),
                position bigint NOT NULL
            )""").format(self._position),
            sql.SQL(
                "INSERT INTO {} (id, position) VALUES (1, 0) ON CONFLICT (id) DO NOTHING"
            ).format(self._position),
            sql.SQL("""CREATE TABLE IF NOT EXISTS {} (
                contract_id text COLLATE "C" PRIMARY KEY,
                reference text COLLATE "C" NOT NULL,
                title text NOT NULL,
                status text NOT NULL,
                commissioner text NOT NULL,
                version bigint NOT NULL,
                updated_at timestamptz NOT NULL,
                head_digest text NOT NULL,
                reference_folded text COLLATE "C" NOT NULL,
                title_folded text COLLATE "C" NOT NULL
            )""").format(self._summaries),
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (reference, contract_id)").format(
                sql.Identifier(SUMMARIES + "_by_reference"), self._summaries
            ),
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (status, reference, contract_id)").format(
                sql.Identifier(SUMMARIES + "_by_status"), self._summaries
            ),
            sql.SQL("""CREATE TABLE IF NOT EXISTS {} (
                contract_id text COLLATE "C" NOT NULL,
                role text NOT NULL CHECK (role IN ('commissioner', 'provider')),
                ordinal integer NOT NULL,
                org text NOT NULL,
                PRIMARY KEY (contract_id, role, ordinal)
            )""").format(self._parties),
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (org, contract_id)").format(
                sql.Identifier(PARTIES + "_by_org"), self._parties
            ),
            sql.SQL("""CREATE TABLE IF NOT EXISTS {} (
                contract_id text COLLATE "C" NOT NULL,
                ordinal integer NOT NULL,
                indicator_id text NOT NULL,
                name text NOT NULL,
                version bigint NOT NULL,
                unit text NOT NULL,
                direction text NOT NULL,
                active boolean NOT NULL,
                baseline_value text,
                baseline_measured_on date,
                target_value text,
                target_due_on date,
                latest_value text,
                latest_period_end date,
                on_track boolean,
                PRIMARY KEY (contract_id, ordinal)
            )""").format(self._indicators),
        ]
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
            for statement in statements:
                connection.execute(statement)

    # ---------------------------------------------------------------- the protocol

    def position(self) -> int:
        with self._connection() as connection:
            row = connection.execute(
                self._sql.SQL("SELECT position FROM {} WHERE id = 1").format(self._position)
            ).fetchone()
        return int(row[0]) if row else 0

    def advance(
        self,
        from_position: int,
        to_position: int,
        summaries: Sequence[ContractSummary],
        indicators: dict[str, list[IndicatorRow]],
    ) -> bool:
        sql = self._sql
        latest = _latest_per_contract(summaries)
        with self._connection() as connection, connection.transaction():
            row = connection.execute(
                sql.SQL("SELECT position FROM {} WHERE id = 1 FOR UPDATE").format(self._position)
            ).fetchone()
            if (int(row[0]) if row else 0) != from_position:
                return False
            with connection.cursor() as cursor:
                self._write_summaries(cursor, latest)
                self._write_indicators(cursor, indicators)
                cursor.execute(
                    sql.SQL(
                        "INSERT INTO {} (id, position) VALUES (1, %s) "
                        "ON CONFLICT (id) DO UPDATE SET position = EXCLUDED.position"
                    ).format(self._position),
                    (to_position,),
                )
            return True

    def _write_summaries(
        self, cursor: psycopg.Cursor[tuple[Any, ...]], summaries: Sequence[ContractSummary]
    ) -> None:
        if not summaries:
            return
        sql = self._sql
        columns = sql.SQL(", ").join(map(sql.Identifier, _SUMMARY_COLUMNS))
        updates = sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in _SUMMARY_COLUMNS[1:]
        )
        cursor.executemany(
            sql.SQL(
                "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (contract_id) DO UPDATE SET {}"
            ).format(
                self._summaries,
                columns,
                sql.SQL(", ").join(sql.Placeholder() * len(_SUMMARY_COLUMNS)),
                updates,
            ),
            [
                (
                    s.contract_id,
                    s.reference,
                    s.title,
                    s.status,
                    s.commissioner,
                    s.version,
                    s.updated_at,
                    s.head_digest,
                    s.reference.casefold(),
                    s.title.casefold(),
                )
                for s in summaries
            ],
        )
        cursor.execute(
            sql.SQL("DELETE FROM {} WHERE contract_id = ANY(%s)").format(self._parties),
            ([s.contract_id for s in summaries],),
        )
        with cursor.copy(
            sql.SQL("COPY {} (contract_id, role, ordinal, org) FROM STDIN").format(self._parties)
        ) as copy:
            for summary in summaries:
                for party in _party_rows(summary):
                    copy.write_row(party)

    def _write_indicators(
        self, cursor: psycopg.Cursor[tuple[Any, ...]], indicators: dict[str, list[IndicatorRow]]
    ) -> None:
        if not indicators:
            return
        sql = self._sql
        cursor.execute(
            sql.SQL("DELETE FROM {} WHERE contract_id = ANY(%s)").format(self._indicators),
            (list(indicators),),
        )
        columns = sql.SQL(", ").join(map(sql.Identifier, _INDICATOR_COLUMNS))
        with cursor.copy(
            sql.SQL("COPY {} ({}) FROM STDIN").format(self._indicators, columns)
        ) as copy:
            for key, rows in indicators.items():
                for ordinal, r in enumerate(rows):
                    copy.write_row(
                        (
                            key,
                            ordinal,
                            r.indicator_id,
                            r.name,
                            r.version,
                            r.unit,
                            r.direction,
                            r.active,
                            _decimal_text(r.baseline_value),
                            r.baseline_measured_on,
                            _decimal_text(r.target_value),
                            r.target_due_on,
                            _decimal_text(r.latest_value),
                            r.latest_period_end,
                            r.on_track,
                        )
                    )

    def summaries(self, query: SummaryFilter) -> list[ContractSummary]:
        sql = self._sql
        conditions: list[Composable] = [sql.SQL("TRUE")]
        parameters: dict[str, Any] = {"limit": _limit(query)}
        if query.after is not None:
            conditions.append(
                sql.SQL(
                    """(s.reference, s.contract_id) > (%(after_reference)s COLLATE "C", """
                    """%(after_contract_id)s COLLATE "C")"""
                )
            )
            parameters["after_reference"], parameters["after_contract_id"] = query.after
        if query.visible_to is not None:
            conditions.append(
                sql.SQL(
                    "EXISTS (SELECT 1 FROM {} p "
                    "WHERE p.org = %(visible_to)s AND p.contract_id = s.contract_id)"
                ).format(self._parties)
            )
            parameters["visible_to"] = query.visible_to
        if query.status is not None:
            conditions.append(sql.SQL("s.status = %(status)s"))
            parameters["status"] = query.status
        text = (query.text or "").casefold()
        if text:
            conditions.append(
                sql.SQL(
                    "(s.reference_folded LIKE %(pattern)s ESCAPE '\\' "
                    "OR s.title_folded LIKE %(pattern)s ESCAPE '\\')"
                )
            )
            parameters["pattern"] = _like_pattern(text)
        statement = sql.SQL("""
            WITH page AS (
                SELECT {page_columns} FROM {summaries} s WHERE {conditions}
                ORDER BY s.reference, s.contract_id LIMIT %(limit)s
            )
            SELECT page.*, p.org FROM page
            LEFT JOIN {parties} p ON p.contract_id = page.contract_id AND p.role = 'provider'
            ORDER BY page.reference, page.contract_id, p.ordinal
        """).format(
            page_columns=sql.SQL(", ").join(sql.Identifier("s", c) for c in _PAGE_COLUMNS),
            summaries=self._summaries,
            conditions=sql.SQL(" AND ").join(conditions),
            parties=self._parties,
        )
        with self._connection() as connection:
            rows = connection.execute(statement, parameters).fetchall()
        return _group_page(rows, _pg_summary)

    def indicators(self, contract_id: str) -> list[IndicatorRow]:
        sql = self._sql
        with self._connection() as connection:
            rows = connection.execute(
                sql.SQL("SELECT {} FROM {} WHERE contract_id = %s ORDER BY ordinal").format(
                    sql.SQL(", ").join(map(sql.Identifier, _INDICATOR_COLUMNS)), self._indicators
                ),
                (contract_id,),
            ).fetchall()
        return [indicator_row(row, read_date=_as_is, read_bool=_as_is) for row in rows]

    def clear(self) -> None:
        sql = self._sql
        with self._connection() as connection, connection.transaction():
            # Lock the position first, as advance does: a concurrent advance then either
            # finishes before the clear or finds position 0 and writes nothing.
            connection.execute(
                sql.SQL("SELECT position FROM {} WHERE id = 1 FOR UPDATE").format(self._position)
            )
            for table in (self._summaries, self._parties, self._indicators):
                connection.execute(sql.SQL("DELETE FROM {}").format(table))
            connection.execute(
                sql.SQL(
                    "INSERT INTO {} (id, position) VALUES (1, 0) "
                    "ON CONFLICT (id) DO UPDATE SET position = 0"
                ).format(self._position)
            )

    def close(self) -> None:
        self._pool.close()


__all__ = ["PostgresReadModels", "SqliteReadModels"]
