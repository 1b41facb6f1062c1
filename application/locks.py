"""Commands on one contract in one process take turns: one lock per contract, bounded waits."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from application.errors import TooMuchContention

#: How long a command waits for its turn on a busy contract before giving up (503).
COMMAND_QUEUE_SECONDS = 4.5


class KeyedLocks:
    """One lock per key (a contract), made on demand and dropped when nobody holds or awaits it.

    Commands on one contract in one process take turns instead of racing for the next version
    and retrying; a wait is bounded, so a store outage cannot queue requests for ever."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._guard = threading.Lock()
        self._locks: dict[str, _Queue] = {}

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[Turn]:
        with self._guard:
            queue = self._locks.setdefault(key, _Queue())
            queue.users += 1
        turn = Turn(queue, time.monotonic())
        try:
            if not queue.lock.acquire(timeout=self.timeout):
                raise TooMuchContention(
                    f"contract {key} is busy: no turn within {self.timeout:g} s; try again"
                )
            try:
                yield turn
            finally:
                queue.lock.release()
        finally:
            with self._guard:
                queue.users -= 1
                if queue.users == 0:
                    del self._locks[key]


class _Queue:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.store_failed_at = float("-inf")


@dataclass
class Turn:
    """One command's turn on a contract."""

    queue: _Queue
    waiting_since: float

    @property
    def store_failed_while_waiting(self) -> bool:
        """Did the store fail a command on this contract while this one waited its turn?"""
        return self.queue.store_failed_at > self.waiting_since

    def store_failed(self) -> None:
        self.queue.store_failed_at = time.monotonic()
