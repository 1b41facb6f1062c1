"""SQLite through the library's recorders, with a bounded wait for the single writer slot.

SQLite allows one writer at a time; the library queues writers in-process for up to 5 s and
then lets each wait out SQLite's busy timeout, so when the file stays locked, queued writers
fail one after another. Here the wait for the writer slot plus the busy timeout stay within the
budget a client is promised (a StoreUnavailable well inside 5 s).
"""

from __future__ import annotations

from eventsourcing.sqlite import SQLiteFactory
from eventsourcing.utils import Environment


class BoundedWaitSQLiteFactory(SQLiteFactory):
    """Named by topic in PERSISTENCE_MODULE (see `infrastructure.stores`)."""

    POOL_TIMEOUT = "DIALOOG_SQLITE_POOL_TIMEOUT"

    def __init__(self, env: Environment | dict[str, str] | None) -> None:
        super().__init__(env)
        self.datastore.pool.pool_timeout = float(self.env.get(self.POOL_TIMEOUT) or "2")
