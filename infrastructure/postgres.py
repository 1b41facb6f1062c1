"""PostgreSQL through the library's psycopg 3 recorders, failing fast instead of retrying.

The stock recorders retry every operation ten times on an operational error, each attempt
waiting up to the connect timeout: a dead database would hold a request for tens of seconds.
Here each operation is tried once, so a dead store surfaces as `StoreUnavailable` within the
connect timeout; the caller (an HTTP client, a retrying job) decides what to do next. Every
session also gets a statement timeout, so a server that accepts but never answers cannot hang
a request either. Durability settings (fsync, synchronous_commit) are left at the server's.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import psycopg_pool.pool
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresFactory,
)
from eventsourcing.utils import Environment
from psycopg import sql
from psycopg.rows import tuple_row
from psycopg_pool.base import AttemptWithBackoff

from application.errors import CommitOutcomeUnknown, NotStored
from application.feed import feed_entries as rendered_entries
from infrastructure import metrics
from infrastructure.feed_entries import SqlFeedEntries, SqlFeedReads
from infrastructure.merkle_log import LeafIndexCache, SqlLogReads, SqlMerkleLog, contract_leaves
from infrastructure.personal_keys import SqlKeyRing

log = logging.getLogger("dialoog.store")


class _CappedBackoff(AttemptWithBackoff):
    """psycopg_pool retries a lost connection with a delay that doubles each time (1, 2, 4,
    8 … s, for up to 5 minutes): after an outage of ten seconds its pools stayed empty for up to
    another ten while the database was back and /readyz said so, and each request waiting on
    them failed. Retrying every second at most lets the pools refill within a second of the
    database's return; one attempt a second per missing connection costs the server nothing."""

    MAX_DELAY = 1.0

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, self.MAX_DELAY)


# Every pool of this process (event store and read models) refills on the capped schedule.
psycopg_pool.pool.AttemptWithBackoff = _CappedBackoff  # type: ignore[attr-defined]


def _once(method: Any) -> Any:
    """The recorder method without the library's retry decorator."""
    return getattr(method, "__wrapped__", method)


class FailFastAggregateRecorder(PostgresAggregateRecorder):
    insert_events = _once(PostgresAggregateRecorder.insert_events)
    select_events = _once(PostgresAggregateRecorder.select_events)


def _timed_select(select: Any) -> Any:
    def select_events(self: Any, *args: Any, **kwargs: Any) -> Any:
        with metrics.store_call("select"):
            return select(self, *args, **kwargs)

    return select_events


class FailFastApplicationRecorder(PostgresApplicationRecorder):
    insert_events = _once(PostgresApplicationRecorder.insert_events)
    select_events = _timed_select(_once(PostgresApplicationRecorder.select_events))
    select_notifications = _once(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _once(PostgresApplicationRecorder.max_notification_id)


#: The library's own insert (one transaction, pipelined, table lock), tried once.
_stock_insert = _once(PostgresApplicationRecorder.insert_events)


class _Save:
    """One caller's events, waiting to be committed with others."""

    __slots__ = ("error", "events", "finished", "lead", "notification_ids", "queued_at", "wake")

    def __init__(self, events: Sequence[StoredEvent]) -> None:
        self.events = events
        self.queued_at = time.monotonic()
        self.wake = threading.Event()
        self.finished = False
        self.lead = False
        self.error: BaseException | None = None
        self.notification_ids: Sequence[int] | None = None


def _own_copy(error: Exception) -> Exception:
    """The same failure as a new exception per caller: one exception object raised in many
    threads at once would have its traceback and context rewritten by each of them."""
    try:
        copy = type(error)(*error.args)
    except Exception:
        copy = RuntimeError(str(error))
    copy.__cause__ = error
    return copy


def _within(lookup: Any, seconds: float) -> Any:
    """`lookup()` in a helper thread, given up after `seconds` (TimeoutError); the abandoned
    thread ends on its own connect, lock and statement timeouts."""
    if seconds <= 0.1:
        raise TimeoutError("no time left to ask")
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, lookup()))
        except BaseException as error:  # handed to the caller's thread below
            outcome.append((False, error))

    helper = threading.Thread(target=run, name="commit-outcome-lookup", daemon=True)
    helper.start()
    helper.join(seconds)
    if not outcome:
        raise TimeoutError(f"no answer within {seconds:.1f} s")
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def _never_connected(error: BaseException) -> bool:
    """True if the failure was getting a connection from the pool: nothing reached the server."""
    from psycopg_pool import PoolClosed, PoolTimeout

    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, PoolTimeout | PoolClosed):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class GroupCommitApplicationRecorder(SqlLogReads, SqlFeedReads, FailFastApplicationRecorder):
    """Commits the events of concurrent saves together: one transaction, one table lock and one
    fsync for many commands, each in its own savepoint so a conflict fails only its own save.

    The stock path locks the events table for every save and holds the lock through the commit,
    so saves on one server are bounded by one fsync each. Here callers queue; the first becomes
    the leader, commits everything queued in one transaction, wakes every caller whose events
    are now durable, and hands leadership to the next waiting caller. Insert order still equals
    commit order (the table lock is kept), so readers of the notification log never skip a gap.
    A caller returns only after the commit that holds its events succeeded.

    The transparency log's leaves are appended in the same transaction, after the insert and
    under the same table lock (`_fetch_ids_after_insert_events`), so leaf indexes follow commit
    order without gaps across processes too (infrastructure/merkle_log.py).
    """

    MAX_BATCH = 256

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue: deque[_Save] = deque()
        self._queue_lock = threading.Lock()
        self._leading = False
        self.merkle_sql = SqlMerkleLog(
            placeholder="%s", blob="bytea", bigint="bigint", schema=self.datastore.schema
        )
        self.leaf_cache = LeafIndexCache()
        self.feed_sql = SqlFeedEntries(
            placeholder="%s", blob="bytea", bigint="bigint", schema=self.datastore.schema
        )

    # -- the transparency log (begin) ------------------------------------------------------

    def create_table(self) -> None:
        super().create_table()
        with self.datastore.transaction(commit=True) as cursor:
            for statement in self.merkle_sql.create_statements:
                cursor.execute(statement)
        with self.datastore.transaction(commit=True) as cursor:
            for statement in self.feed_sql.create_statements:
                cursor.execute(statement)
        with self.datastore.transaction(commit=True) as cursor:
            self._lock_table(cursor)  # no insert between reading the events and the head
            table = f'"{self.datastore.schema}"."{self.events_table_name}"'
            self.merkle_sql.backfill(cursor, table, "notification_id")
            self.feed_sql.backfill(cursor, table, "notification_id")

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        leaves = contract_leaves(stored_events, notification_ids)
        indexes = self.merkle_sql.append(curs, leaves)
        self.leaf_cache.stage(zip((leaf[0] for leaf in leaves), indexes, strict=True))
        self._append_feed_entries(curs, stored_events, notification_ids)
        return notification_ids

    def _append_feed_entries(
        self, curs: Any, stored_events: Sequence[StoredEvent], positions: Sequence[int] | None
    ) -> None:
        """The change feed's entries of the events, in their transaction (application/feed.py)."""
        self.feed_sql.append(curs, rendered_entries(stored_events, positions))

    @contextlib.contextmanager
    def _log_cursor(self) -> Iterator[Any]:
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            yield cursor

    def _head_statement(self) -> str:
        table = f'"{self.datastore.schema}"."{self.events_table_name}"'
        return f"SELECT MAX(notification_id) FROM {table}"  # noqa: S608 (the store's own name)

    @contextlib.contextmanager
    def _feed_cursor(self) -> Iterator[Any]:
        with (
            self.datastore.get_connection() as connection,
            connection.cursor(row_factory=tuple_row) as cursor,
        ):
            yield cursor

    @contextlib.contextmanager
    def _log_write_cursor(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as cursor:
            yield cursor

    def _staged(self, insert: Any) -> Any:
        """Run a committing insert; the leaf indexes it appended count once it committed."""
        self.leaf_cache.discard_staged()
        try:
            outcome = insert()
        except BaseException:
            self.leaf_cache.discard_staged()
            raise
        self.leaf_cache.commit_staged()
        return outcome

    # -- the transparency log (end) --------------------------------------------------------

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        if any(value is not None for value in kwargs.values()):
            # Tracking records and the like belong to one transaction of their own.
            alone: Sequence[int] | None = self._staged(
                lambda: _stock_insert(self, stored_events, **kwargs)
            )
            return alone
        with metrics.store_call("insert", len(stored_events)):
            return self._insert_in_group(stored_events)

    def _insert_in_group(self, stored_events: Sequence[StoredEvent]) -> Sequence[int] | None:
        save = _Save(stored_events)
        with self._queue_lock:
            self._queue.append(save)
            if not self._leading:
                self._leading = save.lead = True
        if not save.lead:
            save.wake.wait()  # woken when its batch committed, or to lead the next batch
        if not save.finished:
            self._lead()
        if save.error is not None:
            raise save.error
        return save.notification_ids

    def _lead(self) -> None:
        with self._queue_lock:
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), self.MAX_BATCH))]
        try:
            self._commit(batch)
        except IntegrityError as error:  # a conflict of a batch of one: that save fails
            for save in batch:
                if save.error is None:
                    save.error = _own_copy(error)
                    save.notification_ids = None
        except Exception as error:  # the connection failed: what did the store keep?
            self._resolve(batch, error)
        finally:
            for save in batch:
                save.finished = True
                save.wake.set()
            with self._queue_lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.wake.set()  # not finished: it leads the next batch
                else:
                    self._leading = False

    def _commit(self, batch: list[_Save]) -> None:
        """All saves in one pipelined transaction; if any conflicts, each in its own savepoint."""
        events = [event for save in batch for event in save.events]
        metrics.group_committed(len(batch), len(events))
        try:
            notification_ids = list(self._staged(lambda: _stock_insert(self, events)) or [])
        except IntegrityError:
            if len(batch) == 1:
                raise
            self._staged(lambda: self._commit_one_by_one(batch))
            return
        for save in batch:
            save.notification_ids, notification_ids = (
                notification_ids[: len(save.events)],
                notification_ids[len(save.events) :],
            )

    #: Asking whether an uncertain commit stored a batch stays within the 5 s a client waits.
    DEADLINE = 4.5
    RESOLVE_CONNECT_TIMEOUT = 2
    RESOLVE_LOCK_TIMEOUT_MS = 1500

    def _resolve(self, batch: list[_Save], error: Exception) -> None:
        """Answer each caller of a failed commit with what really happened.

        When the connection breaks after COMMIT was sent, the rows may be durable although the
        commit raised. Each save's (originator_id, originator_version) rows are looked up on a
        fresh connection: all there → the save succeeded; none there → not stored, safe to
        retry; no answer in time → the outcome is unknown, and the caller is told so. A failure
        to get a connection at all means nothing was sent: not stored.
        """
        # The lookup gets what is left of the first caller's deadline, no more: a client is
        # answered within its 5 s either way, "unknown" when the store could not say in time.
        remaining = min(save.queued_at for save in batch) + self.DEADLINE - time.monotonic()
        if _never_connected(error):
            found: list[Sequence[int] | None] | None = [None] * len(batch)
        else:
            try:
                found = _within(lambda: self._stored(batch), remaining)
            except Exception as lookup_error:
                log.warning(
                    "commit outcome unknown for %d saves: %s (lookup: %s)",
                    len(batch),
                    type(error).__name__,
                    type(lookup_error).__name__,
                )
                found = None
        for index, save in enumerate(batch):
            if save.error is not None:
                continue
            ids = found[index] if found is not None else None
            if ids is not None:
                save.notification_ids = ids  # durable: the caller succeeded
                continue
            save.notification_ids = None
            failure: Exception = (
                NotStored("the change was not stored; it is safe to send it again")
                if found is not None
                else CommitOutcomeUnknown(
                    "the connection to the event store broke during the commit and the store "
                    "could not be asked in time whether the change was stored; check the "
                    "contract's history before sending it again, or resend it with the same "
                    "Idempotency-Key"
                )
            )
            failure.__cause__ = error
            save.error = failure
        if found is not None:
            log.warning(
                "commit failed (%s); %d of %d saves were stored nonetheless",
                type(error).__name__,
                sum(ids is not None for ids in found),
                len(batch),
            )

    def _stored(self, batch: list[_Save]) -> list[Sequence[int] | None]:
        """Per save, its notification ids if all its rows are stored, else None. A SHARE lock
        waits (bounded) for a commit still in flight on the old connection to end either way."""
        pool_kwargs = self.datastore.pool.kwargs
        kwargs = dict((pool_kwargs() if callable(pool_kwargs) else pool_kwargs) or {})
        kwargs.pop("row_factory", None)
        kwargs["connect_timeout"] = self.RESOLVE_CONNECT_TIMEOUT
        table = sql.SQL("{}.{}").format(
            sql.Identifier(self.datastore.schema), sql.Identifier(self.events_table_name)
        )
        keys = [(str(e.originator_id), e.originator_version) for s in batch for e in s.events]
        with psycopg.connect(**kwargs) as connection, connection.transaction():
            connection.execute(
                sql.SQL("SET LOCAL lock_timeout = {}").format(
                    sql.Literal(f"{self.RESOLVE_LOCK_TIMEOUT_MS}ms")
                )
            )
            connection.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(table))
            rows = connection.execute(
                sql.SQL(
                    "SELECT originator_id::text, originator_version, notification_id FROM {} "
                    "WHERE (originator_id::text, originator_version) IN "
                    "(SELECT * FROM unnest(%s::text[], %s::bigint[]))"
                ).format(table),
                ([k[0] for k in keys], [k[1] for k in keys]),
            ).fetchall()
        stored = {(str(row[0]), int(row[1])): int(row[2]) for row in rows}
        found: list[Sequence[int] | None] = []
        for save in batch:
            ids = [stored.get((str(e.originator_id), e.originator_version)) for e in save.events]
            found.append([i for i in ids if i is not None] if None not in ids else None)
        return found

    def _commit_one_by_one(self, batch: list[_Save]) -> None:
        with (
            self.datastore.get_connection() as connection,
            connection.transaction(),
            connection.cursor() as cursor,
        ):
            self._lock_table(cursor)
            self._notify_channel(cursor)
            for save in batch:
                try:
                    with connection.transaction():  # a savepoint per caller
                        PostgresAggregateRecorder._insert_stored_events(self, cursor, save.events)
                        save.notification_ids = self._fetch_ids_after_insert_events(
                            cursor, save.events
                        )
                except psycopg.IntegrityError as error:
                    save.error = IntegrityError(str(error))


#: The session-level advisory lock under which a process creates (or checks) the schema.
SCHEMA_LOCK_KEY = 0x6469616C6F6F67  # "dialoog"


class FailFastPostgresFactory(PostgresFactory):
    """Named by topic in PERSISTENCE_MODULE (see `infrastructure.stores`).

    Processes that start at once against one database (several API hosts after a deploy, the
    workers of one) create or check the schema one after another, under a session-level
    advisory lock: the library's `CREATE OR REPLACE FUNCTION` run by two sessions at once fails
    one of them with "tuple concurrently updated", and two `CREATE TABLE IF NOT EXISTS` of one
    new table can collide on the catalog's unique index."""

    aggregate_recorder_class = FailFastAggregateRecorder
    application_recorder_class = GroupCommitApplicationRecorder

    STATEMENT_TIMEOUT = "DIALOOG_STATEMENT_TIMEOUT_MS"

    def __init__(self, env: Environment | dict[str, str] | None) -> None:
        super().__init__(env)
        statement_timeout = int(self.env.get(self.STATEMENT_TIMEOUT) or "5000")
        connect_kwargs = self.datastore.pool.kwargs
        if isinstance(connect_kwargs, dict):
            connect_kwargs["options"] = f"-c statement_timeout={statement_timeout}"
            # A half-open connection (server gone without a FIN) must not hang a commit, and with
            # it every save queued behind the group-commit leader: give up after ~5 s.
            connect_kwargs.update(
                keepalives=1,
                keepalives_idle=2,
                keepalives_interval=1,
                keepalives_count=3,
                tcp_user_timeout=5000,
            )

    def application_recorder(self) -> Any:
        with self.schema_lock():
            return super().application_recorder()

    def aggregate_recorder(self, purpose: str = "events") -> Any:
        with self.schema_lock():
            return super().aggregate_recorder(purpose)

    def personal_key_ring(self, snapshots: Any) -> SqlKeyRing:
        schema = self.datastore.schema
        with self.schema_lock():
            return SqlKeyRing(
                self.datastore,
                dialect="postgres",
                table=f'"{schema}".dialoog_personal_keys',
                snapshots_table=f'"{schema}"."{snapshots.events_table_name}"',
                snapshot_id=lambda uuid: uuid,
            )

    @contextlib.contextmanager
    def schema_lock(self) -> Iterator[None]:
        """Held on a connection of its own (the block takes the pool's) for the block, and
        released when that connection closes whatever happens; its wait is bounded by a
        statement timeout of its own."""
        given = self.datastore.pool.kwargs
        kwargs = dict(given() if callable(given) else (given or {}))
        kwargs.pop("row_factory", None)
        kwargs["options"] = f"-c statement_timeout={SCHEMA_LOCK_TIMEOUT_MS}"
        # libpq takes whole seconds and treats values below 2 as 2.
        kwargs.setdefault("connect_timeout", max(2, int(self.datastore.pool.timeout)))
        try:
            connection = psycopg.connect(**kwargs, autocommit=True)
        except psycopg.Error as error:  # the store is down: as any other store failure
            raise OperationalError(str(error)) from error
        with connection:
            try:
                connection.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
            except psycopg.Error as error:
                raise OperationalError(str(error)) from error
            yield


#: How long a starting process waits for another to finish creating the schema.
SCHEMA_LOCK_TIMEOUT_MS = 60_000
