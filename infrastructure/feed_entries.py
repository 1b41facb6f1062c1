"""The change feed's entries (application/feed.py): each contract event's CloudEvent rendered
once, written in the transaction that stores the event, under the same writer lock, so an entry
commits with its event and positions stay in commit order.

Entries are derived: the events are the record. A store that predates the table gets its
entries rendered from its events when the table is made (`backfill`, under the writer lock).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from application.feed import FeedEntry
from application.feed import feed_entries as rendered_entries
from infrastructure.merkle_log import CONTRACT_TOPIC_PREFIX

#: Events rendered per step when entries are made for a store that predates them.
BACKFILL_CHUNK = 5_000


class SqlFeedEntries:
    """The entries' SQL, for SQLite (`?`, BLOB) and PostgreSQL (`%s`, bytea)."""

    def __init__(self, *, placeholder: str, blob: str, bigint: str, schema: str = "") -> None:
        self.p = placeholder
        #: PostgreSQL: prepared once per connection, rows in binary (no hex text for bytea)
        self.read_options: dict[str, Any] = (
            {"prepare": True, "binary": True} if placeholder == "%s" else {}
        )
        self.table = (f'"{schema}".' if schema else "") + "dialoog_feed_entries"
        self.create_statements = [
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            f"position {bigint} PRIMARY KEY, contract_id TEXT NOT NULL, "
            f"version {bigint} NOT NULL, type TEXT NOT NULL, body {blob})",
            "CREATE INDEX IF NOT EXISTS feed_entries_by_contract "
            f"ON {self.table} (contract_id, position)",
        ]

    def append(self, cursor: Any, entries: Sequence[FeedEntry]) -> None:
        if entries:
            cursor.executemany(
                f"INSERT INTO {self.table} (position, contract_id, version, type, body) "  # noqa: S608
                f"VALUES ({self.p}, {self.p}, {self.p}, {self.p}, {self.p})",
                entries,
            )

    def select(
        self,
        cursor: Any,
        after: int,
        stop: int,
        limit: int,
        types: Sequence[str],
        contract_id: str | None,
    ) -> list[FeedEntry]:
        where, params = self._where(after, self.p, [stop], types, contract_id)
        cursor.execute(
            f"SELECT position, contract_id, version, type, body FROM {self.table} "  # noqa: S608
            f"WHERE {where} ORDER BY position LIMIT {self.p}",
            [*params, limit],
            **self.read_options,
        )
        return self._entries(cursor.fetchall())

    def select_to_head(
        self,
        cursor: Any,
        head: str,
        after: int,
        limit: int,
        types: Sequence[str],
        contract_id: str | None,
    ) -> tuple[int, list[FeedEntry]]:
        """The log's head (`head`: the statement reading it) and the entries up to it, in one
        statement: one snapshot, one round trip. The head comes first, as a row of its own."""
        where, params = self._where(after, f"({head})", [], types, contract_id)
        cursor.execute(
            f"SELECT 0 AS part, ({head}) AS position, NULL AS contract_id, NULL AS version, "  # noqa: S608
            "NULL AS type, NULL AS body UNION ALL SELECT * FROM ("
            f"SELECT 1, position, contract_id, version, type, body FROM {self.table} "
            f"WHERE {where} ORDER BY position LIMIT {self.p}) AS page ORDER BY part, position",
            [*params, limit],
            **self.read_options,
        )
        rows = cursor.fetchall()
        first = rows[0]
        head_at = first["position"] if isinstance(first, dict) else first[1]
        return int(head_at or 0), self._entries([row[1:] for row in _tuples(rows[1:])])

    def _where(
        self,
        after: int,
        stop: str,
        stop_params: list[Any],
        types: Sequence[str],
        contract_id: str | None,
    ) -> tuple[str, list[Any]]:
        where = [f"position > {self.p}", f"position <= {stop}"]
        params: list[Any] = [after, *stop_params]
        if contract_id is not None:
            where.append(f"contract_id = {self.p}")
            params.append(contract_id)
        if types and self.read_options:
            where.append(f"type = ANY({self.p})")
            params.append(list(types))
        elif types:
            where.append(f"type IN ({', '.join([self.p] * len(types))})")
            params.extend(types)
        return " AND ".join(where), params

    @staticmethod
    def _entries(rows: Sequence[Any]) -> list[FeedEntry]:
        if rows and type(rows[0]) is tuple:  # PostgreSQL (`read_options`): the columns' types
            return list(map(FeedEntry._make, rows))
        return [
            FeedEntry(
                int(row[0]),
                str(row[1]),
                int(row[2]),
                str(row[3]),
                None if row[4] is None else bytes(row[4]),
            )
            for row in _tuples(rows)
        ]

    def backfill(self, cursor: Any, events_table: str, notification_column: str) -> int:
        """Render the entries of contract events stored before the table existed: only when it
        is empty, in notification order, `BACKFILL_CHUNK` events at a time (bounded memory on a
        big store). Run under the store's writer lock; returns the entries made."""
        cursor.execute(f"SELECT 1 FROM {self.table} LIMIT 1")  # noqa: S608
        if cursor.fetchall():
            return 0
        made, after = 0, 0
        while True:
            cursor.execute(
                f"SELECT {notification_column} AS n, originator_id, originator_version, "  # noqa: S608
                f"topic, state FROM {events_table} "
                f"WHERE topic LIKE {self.p} AND {notification_column} > {self.p} "
                f"ORDER BY {notification_column} LIMIT {BACKFILL_CHUNK}",
                (CONTRACT_TOPIC_PREFIX + "%", after),
            )
            rows = _tuples(cursor.fetchall())
            if not rows:
                return made
            events = [
                StoredEvent(
                    originator_id=UUID(str(row[1])),
                    originator_version=int(row[2]),
                    topic=str(row[3]),
                    state=bytes(row[4]),
                )
                for row in rows
            ]
            entries = rendered_entries(events, [int(row[0]) for row in rows])
            self.append(cursor, entries)
            made += len(entries)
            after = int(rows[-1][0])


class SqlFeedReads:
    """The `FeedStore` read of an SQL recorder; `_log_cursor()` gives a reading cursor."""

    feed_sql: SqlFeedEntries

    def _log_cursor(self) -> Any:  # a context manager yielding a cursor
        raise NotImplementedError

    def _feed_cursor(self) -> Any:
        """A reading cursor for the entries (PostgreSQL: giving tuples, fewer objects a row)."""
        return self._log_cursor()

    def feed_entries(
        self,
        after: int,
        stop: int,
        limit: int,
        *,
        types: Sequence[str] = (),
        contract_id: str | None = None,
    ) -> list[FeedEntry]:
        with self._feed_cursor() as cursor:
            return self.feed_sql.select(cursor, after, stop, limit, types, contract_id)

    def _head_statement(self) -> str:
        """The statement reading the log's head (its last notification id)."""
        raise NotImplementedError

    def feed_entries_to_head(
        self,
        after: int,
        limit: int,
        *,
        types: Sequence[str] = (),
        contract_id: str | None = None,
    ) -> tuple[int, list[FeedEntry]]:
        with self._feed_cursor() as cursor:
            return self.feed_sql.select_to_head(
                cursor, self._head_statement(), after, limit, types, contract_id
            )


def _tuples(rows: Sequence[Any]) -> list[Sequence[Any]]:
    """Rows as sequences (the stores' cursors give dict-like rows)."""
    return [tuple(row.values()) if isinstance(row, dict) else tuple(row) for row in rows]


class MemoryFeedEntries:
    """The entries of a store kept in memory."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._entries: list[FeedEntry] = []
        self._positions: list[int] = []

    def append(self, entries: Sequence[FeedEntry]) -> None:
        with self.lock:
            self._entries.extend(entries)
            self._positions.extend(entry.position for entry in entries)

    def select(
        self,
        after: int,
        stop: int,
        limit: int,
        types: Sequence[str],
        contract_id: str | None,
    ) -> list[FeedEntry]:
        wanted = set(types)
        with self.lock:
            found = []
            # In position order: appended under the store's lock.
            for entry in self._entries[bisect.bisect_right(self._positions, after) :]:
                if entry.position > stop:
                    break
                if contract_id is not None and entry.contract_id != contract_id:
                    continue
                if wanted and entry.type not in wanted:
                    continue
                found.append(entry)
                if len(found) == limit:
                    break
            return found
