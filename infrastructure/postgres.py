"""PostgreSQL through the library's psycopg 3 recorders, failing fast instead of retrying.

The stock recorders retry every operation ten times on an operational error, each attempt
waiting up to the connect timeout: a dead database would hold a request for tens of seconds.
Here each operation is tried once, so a dead store surfaces as `StoreUnavailable` within the
connect timeout; the caller (an HTTP client, a retrying job) decides what to do next. Every
session also gets a statement timeout, so a server that accepts but never answers cannot hang
a request either. Durability settings (fsync, synchronous_commit) are left at the server's.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresFactory,
)
from eventsourcing.utils import Environment

from infrastructure import metrics


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

    __slots__ = ("error", "events", "finished", "lead", "notification_ids", "wake")

    def __init__(self, events: Sequence[StoredEvent]) -> None:
        self.events = events
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


class GroupCommitApplicationRecorder(FailFastApplicationRecorder):
    """Commits the events of concurrent saves together: one transaction, one table lock and one
    fsync for many commands, each in its own savepoint so a conflict fails only its own save.

    The stock path locks the events table for every save and holds the lock through the commit,
    so saves on one server are bounded by one fsync each. Here callers queue; the first becomes
    the leader, commits everything queued in one transaction, wakes every caller whose events
    are now durable, and hands leadership to the next waiting caller. Insert order still equals
    commit order (the table lock is kept), so readers of the notification log never skip a gap.
    A caller returns only after the commit that holds its events succeeded.
    """

    MAX_BATCH = 256

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue: deque[_Save] = deque()
        self._queue_lock = threading.Lock()
        self._leading = False

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        if any(value is not None for value in kwargs.values()):
            # Tracking records and the like belong to one transaction of their own.
            alone: Sequence[int] | None = _stock_insert(self, stored_events, **kwargs)
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
        except Exception as error:  # the whole batch shares the fate of its commit
            for save in batch:
                if save.error is None:
                    save.error = _own_copy(error)
                    save.notification_ids = None
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
            notification_ids = list(_stock_insert(self, events) or [])
        except IntegrityError:
            if len(batch) == 1:
                raise
            self._commit_one_by_one(batch)
            return
        for save in batch:
            save.notification_ids, notification_ids = (
                notification_ids[: len(save.events)],
                notification_ids[len(save.events) :],
            )

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


class FailFastPostgresFactory(PostgresFactory):
    """Named by topic in PERSISTENCE_MODULE (see `infrastructure.event_store`)."""

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
