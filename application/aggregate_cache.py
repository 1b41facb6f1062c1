"""Contracts kept in memory between requests, per process, so that a command or a read does not
decode the whole state again (issue 14).

An entry is a contract as it stood at a version, with that version's digest, pickled: every
caller gets its own copy (`pickle.loads` of a 2,000-event contract takes about a quarter of
loading it from its snapshot and events), so a command that fails half-way or a read that
renders never touches what the next caller gets.

Correct with several processes on one store because an entry is never trusted on its own: the
caller first reads the head of the stored history (one indexed row) and uses the entry only if
it is at that head with that digest, or brings it forward with the events after it (which
replay checks link by link). A write from a stale copy cannot happen either: the store's
optimistic concurrency refuses it and the command runs again on a fresh load. No lock is held
while the store is read, so an outage costs each request its own timeout, never a queue.
Bounded by the bytes of its entries, least recently used first out, and by age: an entry is
dropped once it is `max_age` seconds old (checked whenever it is asked for, and for every entry
at most once a minute while the cache is in use), so a process does not keep the opened personal
texts of a contract another process erased for longer than that, even if nobody reads that
contract here. (Python does not zero freed memory; see docs/PRIVACY.md.)
"""

from __future__ import annotations

import pickle
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class CachedContract:
    version: int
    head_digest: str
    blob: bytes
    kept_at: float  # time.monotonic()

    def contract(self) -> Any:
        """A fresh copy of the contract (the caller's own)."""
        return pickle.loads(self.blob)  # noqa: S301 - bytes this process pickled itself


class AggregateCache:
    def __init__(self, max_bytes: int, max_age: float = 600.0) -> None:
        self._max_bytes = max_bytes
        self._max_age = max_age
        self._swept_at = time.monotonic()
        self._entries: OrderedDict[UUID, CachedContract] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        #: how often an entry served a load as it was, brought forward, or was missing
        self.hits = self.caught_up = self.misses = 0

    def get(self, contract_id: UUID) -> CachedContract | None:
        with self._lock:
            entry = self._entries.get(contract_id)
            if entry is None:
                return None
            if time.monotonic() - entry.kept_at > self._max_age:
                self._drop(contract_id)
                return None
            self._entries.move_to_end(contract_id)
            return entry

    def put(self, contract: Any) -> None:
        """Keep a copy of the contract as it stands now (pickled outside the lock). A copy of an
        older version than the one kept already is ignored."""
        blob = pickle.dumps(contract, protocol=pickle.HIGHEST_PROTOCOL)
        if len(blob) > self._max_bytes:
            self.discard(contract.id)
            return
        entry = CachedContract(contract.version, contract.head_digest, blob, time.monotonic())
        if entry.kept_at - self._swept_at > 60.0:
            self.expire()
        with self._lock:
            kept = self._entries.pop(contract.id, None)
            if kept is not None:
                self._bytes -= len(kept.blob)
                if kept.version > entry.version:
                    entry = kept
            self._entries[contract.id] = entry
            self._bytes += len(entry.blob)
            while self._bytes > self._max_bytes and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted.blob)

    def discard(self, contract_id: UUID) -> None:
        with self._lock:
            self._drop(contract_id)

    def expire(self) -> None:
        """Drop every entry older than `max_age` (also done on the way by `get`)."""
        now = self._swept_at = time.monotonic()
        with self._lock:
            for contract_id in [
                k for k, e in self._entries.items() if now - e.kept_at > self._max_age
            ]:
                self._drop(contract_id)

    def _drop(self, contract_id: UUID) -> None:  # with the lock held
        kept = self._entries.pop(contract_id, None)
        if kept is not None:
            self._bytes -= len(kept.blob)

    @property
    def size_bytes(self) -> int:
        return self._bytes


__all__ = ["AggregateCache", "CachedContract"]
