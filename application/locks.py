"""Commands on one contract in one process take turns: one lock per contract, bounded waits.

A command may also queue for its contract (`KeyedLocks.combine`): whoever gets the turn carries
out every command queued by then, together (`ContractService`), and each caller gets its own
answer — one load and one commit for a burst of commands on a hot contract instead of one each.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from application.errors import StoreUnavailable, TooMuchContention

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
    def hold(self, key: str) -> Iterator[None]:
        """The key's turn, alone (waited for within the timeout, else `StoreUnavailable`)."""
        queue = self._join(key)
        try:
            if not queue.lock.acquire(timeout=self.timeout):
                raise self._busy(key)
            try:
                yield
            finally:
                self._release(queue)
        finally:
            self._leave(key, queue)

    def combine(
        self,
        key: str,
        work: Any,
        carry_out: Callable[[list[Queued]], None],
        *,
        most: int,
    ) -> Any:
        """Queue `work` for the key's turn and return its outcome (or raise its error).

        The caller that gets the turn takes up to `most` queued items and hands them to
        `carry_out`, which must `finish` each one or `put_back` it (it then waits for the next
        turn); callers whose item another carried out are woken with its outcome. A caller
        still queued after the timeout leaves the queue (503); one whose item was taken waits
        for the turn that took it, which ends with the store's own bounded wait."""
        queue = self._join(key)
        item = Queued(work)
        with self._guard:
            queue.pending.append(item)
        deadline = item.since + self.timeout
        late = False  # past the deadline while a turn had taken the item
        try:
            while True:
                item.wake.clear()
                if item.done.is_set():
                    return item.outcome()
                if not late and queue.lock.acquire(blocking=False):
                    try:
                        if not item.done.is_set():
                            self._carry_out(queue, self._take(queue, most), carry_out)
                    finally:
                        self._release(queue)
                    continue
                if late:
                    item.wake.wait()  # answered, or put back for a turn it no longer waits for
                elif item.wake.wait(max(0.0, deadline - time.monotonic())):
                    continue
                with self._guard:
                    queued = item in queue.pending
                    if queued:
                        queue.pending.remove(item)
                        if queue.pending:  # it may have been woken to take the next turn
                            queue.pending[0].wake.set()
                if queued:
                    raise self._busy(key)
                late = True  # taken by the turn now running: its answer comes with it
        finally:
            self._leave(key, queue)

    def _carry_out(
        self, queue: _Queue, batch: list[Queued], carry_out: Callable[[list[Queued]], None]
    ) -> None:
        ready: list[Queued] = []
        for item in batch:
            if queue.store_failed_at > item.since:
                # The store failed the commands before this one: answer now rather than queue
                # every waiter behind its own timeout.
                item.finish(error=StoreUnavailable("the event store failed for the command before"))
            else:
                ready.append(item)
        try:
            if ready:
                carry_out(ready)
        except StoreUnavailable as error:
            queue.store_failed_at = time.monotonic()
            for item in ready:
                item.finish_unless_done(error)
        except Exception as error:
            for item in ready:
                item.finish_unless_done(error)
        finally:
            for item in ready:
                if item.put_back:
                    item.put_back = False
                    with self._guard:
                        queue.pending.appendleft(item)
                else:
                    item.finish_unless_done(
                        RuntimeError("a queued command was neither carried out nor put back")
                    )

    def _take(self, queue: _Queue, most: int) -> list[Queued]:
        with self._guard:
            return [queue.pending.popleft() for _ in range(min(most, len(queue.pending)))]

    def _join(self, key: str) -> _Queue:
        with self._guard:
            queue = self._locks.setdefault(key, _Queue())
            queue.users += 1
            return queue

    def _leave(self, key: str, queue: _Queue) -> None:
        with self._guard:
            queue.users -= 1
            if queue.users == 0:
                del self._locks[key]

    def _release(self, queue: _Queue) -> None:
        """End a turn and wake the first queued caller to take the next one."""
        queue.lock.release()
        with self._guard:
            if queue.pending:
                queue.pending[0].wake.set()

    def _busy(self, key: str) -> TooMuchContention:
        return TooMuchContention(
            f"contract {key} is busy: no turn within {self.timeout:g} s; try again"
        )


class _Queue:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.store_failed_at = float("-inf")
        self.pending: deque[Queued] = deque()


@dataclass(eq=False)
class Queued:
    """A command queued for its contract's turn, and its answer once carried out."""

    work: Any
    since: float = field(default_factory=time.monotonic)
    wake: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    put_back: bool = False
    result: Any = None
    error: BaseException | None = None

    def finish(self, result: Any = None, *, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self.done.set()
        self.wake.set()

    def finish_unless_done(self, error: BaseException) -> None:
        """Answer with `error` (each caller raises its own copy) unless answered already."""
        if not self.done.is_set() and not self.put_back:
            self.finish(error=_own_copy(error))

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


def _own_copy(error: BaseException) -> BaseException:
    """A copy without the traceback, so that callers raising it in their own threads do not
    share one (falls back to the error itself when it does not copy)."""
    try:
        return copy.copy(error)
    except Exception:
        return error
