"""SQLite through the library's recorders, with a bounded wait for the single writer slot.

SQLite allows one writer at a time; the library queues writers in-process for up to 5 s and
then lets each wait out SQLite's busy timeout, so when the file stays locked, queued writers
fail one after another. Here the wait for the writer slot plus the busy timeout stay within the
budget a client is promised (a StoreUnavailable well inside 5 s).

The application recorder also appends the transparency log's leaves in the transaction that
inserts the events (infrastructure/merkle_log.py): the single writer orders them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteFactory
from eventsourcing.utils import Environment

from application.feed import feed_entries as rendered_entries
from infrastructure.feed_entries import SqlFeedEntries, SqlFeedReads
from infrastructure.merkle_log import LeafIndexCache, SqlLogReads, SqlMerkleLog, contract_leaves
from infrastructure.personal_keys import SqlKeyRing


class LoggedSQLiteApplicationRecorder(SqlLogReads, SqlFeedReads, SQLiteApplicationRecorder):
    merkle_sql = SqlMerkleLog(placeholder="?", blob="BLOB", bigint="INTEGER")
    feed_sql = SqlFeedEntries(placeholder="?", blob="BLOB", bigint="INTEGER")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.leaf_cache = LeafIndexCache()
        super().__init__(*args, **kwargs)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            *self.merkle_sql.create_statements,
            *self.feed_sql.create_statements,
        ]

    def create_table(self) -> None:
        super().create_table()
        with self.datastore.transaction(commit=True) as cursor:
            self.merkle_sql.backfill(cursor, self.events_table_name, "rowid")
            self.feed_sql.backfill(cursor, self.events_table_name, "rowid")

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self.leaf_cache.discard_staged()
        try:
            notification_ids = super().insert_events(stored_events, **kwargs)
        except BaseException:
            self.leaf_cache.discard_staged()
            raise
        self.leaf_cache.commit_staged()
        return notification_ids

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        leaves = contract_leaves(stored_events, notification_ids)
        indexes = self.merkle_sql.append(c, leaves)
        self.leaf_cache.stage(zip((leaf[0] for leaf in leaves), indexes, strict=True))
        self.feed_sql.append(c, rendered_entries(stored_events, notification_ids))
        return notification_ids

    def _head_statement(self) -> str:
        return f"SELECT MAX(rowid) FROM {self.events_table_name}"  # noqa: S608 (the store's own name)

    @contextlib.contextmanager
    def _log_cursor(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=False) as cursor:
            yield cursor

    @contextlib.contextmanager
    def _log_write_cursor(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as cursor:
            yield cursor


class BoundedWaitSQLiteFactory(SQLiteFactory):
    """Named by topic in PERSISTENCE_MODULE (see `infrastructure.stores`)."""

    POOL_TIMEOUT = "DIALOOG_SQLITE_POOL_TIMEOUT"
    application_recorder_class = LoggedSQLiteApplicationRecorder

    def __init__(self, env: Environment | dict[str, str] | None) -> None:
        super().__init__(env)
        self.datastore.pool.pool_timeout = float(self.env.get(self.POOL_TIMEOUT) or "2")
        # Deleted content is overwritten, not left in free pages: an erased key or a purged
        # snapshot (application/personal_data.py) must not stay readable in the file.
        create = self.datastore.pool._create_connection

        def create_secure() -> Any:
            connection = create()
            connection._sqlite_conn.execute("PRAGMA secure_delete = ON")
            return connection

        self.datastore.pool._create_connection = create_secure  # type: ignore[method-assign]

    def personal_key_ring(self, snapshots: Any) -> SqlKeyRing:
        return SqlKeyRing(
            self.datastore,
            dialect="sqlite",
            table="dialoog_personal_keys",
            snapshots_table=snapshots.events_table_name,
            snapshot_id=lambda uuid: uuid.hex,  # as the library stores ids in SQLite
        )
