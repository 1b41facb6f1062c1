"""The change feed as Server-Sent Events: per worker, a bounded number of open streams, and one
look at the store's head position shared by all of them.

Each stream follows the feed (application/feed.py) from its cursor. Rather than every stream
asking the store for new events several times a second, the streams of a worker share one
reading of the head position, taken at most once per `poll_seconds`; a stream reads a feed page
only when the head moved past its cursor. An event committed while a stream is open therefore
reaches it within about `poll_seconds` (a quarter of a second by default).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import anyio
import anyio.to_thread


class StreamSlots:
    """At most `capacity` open streams in this worker."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._open = 0
        self._lock = threading.Lock()

    @property
    def open(self) -> int:
        return self._open

    def take(self) -> Slot | None:
        with self._lock:
            if self._open >= self.capacity:
                return None
            self._open += 1
        return Slot(self)

    def _give_back(self) -> None:
        with self._lock:
            self._open -= 1


class Slot:
    """One taken slot; giving it back twice counts once."""

    def __init__(self, slots: StreamSlots) -> None:
        self._slots = slots
        self._held = True
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if not self._held:
                return
            self._held = False
        self._slots._give_back()


class HeadWatch:
    """The store's head position, read at most once per `poll_seconds` for all streams."""

    def __init__(self, read_head: Callable[[], int], poll_seconds: float) -> None:
        self._read_head = read_head
        self.poll_seconds = poll_seconds
        self._head = 0
        self._read_at = float("-inf")
        self._lock: anyio.Lock | None = None

    async def head(self) -> int:
        if self._lock is None:
            self._lock = anyio.Lock()  # made in the event loop that uses it
        async with self._lock:
            if time.monotonic() - self._read_at >= self.poll_seconds:
                self._head = await anyio.to_thread.run_sync(self._read_head)
                self._read_at = time.monotonic()
            return self._head


class EventStreams:
    """What the stream route needs of this worker: its slots and the shared head."""

    def __init__(self, capacity: int, read_head: Callable[[], int], poll_seconds: float) -> None:
        self.slots = StreamSlots(capacity)
        self.watch = HeadWatch(read_head, poll_seconds)
