"""PostgreSQL through the library's psycopg 3 recorders, failing fast instead of retrying.

The stock recorders retry every operation ten times on an operational error, each attempt
waiting up to the connect timeout: a dead database would hold a request for tens of seconds.
Here each operation is tried once, so a dead store surfaces as `StoreUnavailable` within the
connect timeout; the caller (an HTTP client, a retrying job) decides what to do next. Every
session also gets a statement timeout, so a server that accepts but never answers cannot hang
a request either. Durability settings (fsync, synchronous_commit) are left at the server's.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresFactory,
)
from eventsourcing.utils import Environment


def _once(method: Any) -> Any:
    """The recorder method without the library's retry decorator."""
    return getattr(method, "__wrapped__", method)


class FailFastAggregateRecorder(PostgresAggregateRecorder):
    insert_events = _once(PostgresAggregateRecorder.insert_events)
    select_events = _once(PostgresAggregateRecorder.select_events)


class FailFastApplicationRecorder(PostgresApplicationRecorder):
    insert_events = _once(PostgresApplicationRecorder.insert_events)
    select_events = _once(PostgresApplicationRecorder.select_events)
    select_notifications = _once(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _once(PostgresApplicationRecorder.max_notification_id)


class FailFastPostgresFactory(PostgresFactory):
    """Named by topic in PERSISTENCE_MODULE (see `infrastructure.event_store`)."""

    aggregate_recorder_class = FailFastAggregateRecorder
    application_recorder_class = FailFastApplicationRecorder

    STATEMENT_TIMEOUT = "DIALOOG_STATEMENT_TIMEOUT_MS"

    def __init__(self, env: Environment | dict[str, str] | None) -> None:
        super().__init__(env)
        statement_timeout = int(self.env.get(self.STATEMENT_TIMEOUT) or "5000")
        connect_kwargs = self.datastore.pool.kwargs
        if isinstance(connect_kwargs, dict):
            connect_kwargs["options"] = f"-c statement_timeout={statement_timeout}"
