"""Contracts kept in memory between requests, per process, so that a command or a read does not
decode the whole state again (issue 14).

An entry is a contract as it stood at a version, with that version's digest, pickled: every
caller gets its own copy (`pickle.loads` of a 2,000-event contract takes about a quarter of
loading it from its snapshot and events), so a command that fails half-way or a read that
renders never touches what the next caller gets.

Beside each contract it keeps the current state as the API sends it, rendered once per
version, with who may read it: a GET of the current state that finds it at the stored head
answers without loading or rendering the contract (ContractQueries.contract_state_json).

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

#: the views kept rendered: the API's current state (JSON bytes), the pages' full view
RENDERED_KINDS = ("state", "full")


@dataclass
class CachedContract:
    """A contract at a version: as a pickled copy for readers (`blob`), and right after a
    command saved it, the contract object itself (`live`) for the next command to take — so a
    command does not copy the whole state twice (`pickle.loads` + `dumps` of a 2,000-event
    contract: ~45 ms). Only the cache's lock changes `blob` and `live`; whoever takes `live`
    owns it."""

    version: int
    head_digest: str
    blob: bytes | None
    size: int  # bytes counted against the budget: the blob's, or the last blob's
    kept_at: float  # time.monotonic()
    live: Any | None = None


@dataclass(frozen=True)
class RenderedContract:
    """A view of the contract's current state, rendered once per version (a version never
    changes): the API's JSON bytes, or the pages' full view (an immutable model every reader
    shares). With it, what decides who may read it (the members, the access grants), so a read
    that finds it need not load the contract at all."""

    version: int
    head_digest: str
    body: Any
    size: int  # bytes counted against the budget (for a model: an estimate)
    members: frozenset[str]
    grants: tuple[Any, ...]  # the contract's AccessGrants at that version
    kept_at: float


class AggregateCache:
    def __init__(self, max_bytes: int, max_age: float = 600.0) -> None:
        self._max_bytes = max_bytes
        self._max_age = max_age
        self._swept_at = time.monotonic()
        self._entries: OrderedDict[UUID, CachedContract] = OrderedDict()
        #: the rendered current state per contract, within an eighth of the bytes
        self._rendered: OrderedDict[tuple[UUID, str], RenderedContract] = OrderedDict()
        self._rendered_bytes = 0
        #: how often a read was answered from a rendered state
        self.rendered_hits = 0
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

    def copy_of(self, entry: CachedContract) -> Any | None:
        """A contract of the entry's version for the caller alone (None: the entry holds none
        any more). From the pickled copy; if there is none yet, the live contract is taken,
        pickled for those after, and handed over."""
        with self._lock:
            blob, live = entry.blob, entry.live
            if blob is None:
                entry.live = None  # taken: ours alone from here
        if blob is not None:
            return pickle.loads(blob)  # noqa: S301 - bytes this process pickled itself
        if live is None:
            return None
        blob = pickle.dumps(live, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if self._entries.get(live.id) is entry and entry.blob is None:
                entry.blob = blob
                self._bytes += len(blob) - entry.size
                entry.size = len(blob)
        return live

    def take(self, entry: CachedContract) -> Any | None:
        """A contract of the entry's version for a command to change: the live one if it is
        still there (no copy), else a copy; None when the entry holds neither."""
        with self._lock:
            live, entry.live = entry.live, None
        if live is not None:
            return live
        return self.copy_of(entry)

    def put(self, contract: Any) -> None:
        """Keep a copy of the contract as it stands now (pickled outside the lock). A copy of an
        older version than the one kept already is ignored."""
        blob = pickle.dumps(contract, protocol=pickle.HIGHEST_PROTOCOL)
        if len(blob) > self._max_bytes:
            self.discard(contract.id)
            return
        self._keep(
            CachedContract(
                contract.version, contract.head_digest, blob, len(blob), time.monotonic()
            ),
            contract.id,
        )

    def keep_live(self, contract: Any) -> None:
        """Keep the contract a command just saved, as it is (the caller hands it over and only
        reads it from here on): the next command takes it without a copy; the first reader
        pickles it."""
        with self._lock:
            kept = self._entries.get(contract.id)
            size = kept.size if kept is not None else 0
        if size > self._max_bytes:
            self.discard(contract.id)
            return
        entry = CachedContract(
            contract.version, contract.head_digest, None, size, time.monotonic(), live=contract
        )
        self._keep(entry, contract.id)

    def _keep(self, entry: CachedContract, contract_id: UUID) -> None:
        if entry.kept_at - self._swept_at > 60.0:
            self.expire()
        with self._lock:
            kept = self._entries.pop(contract_id, None)
            if kept is not None:
                self._bytes -= kept.size
                if kept.version > entry.version:
                    entry = kept
            self._entries[contract_id] = entry
            self._bytes += entry.size
            while self._bytes > self._max_bytes and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size

    def discard(self, contract_id: UUID) -> None:
        with self._lock:
            self._drop(contract_id)
            self._drop_rendered(contract_id)

    def rendered(self, contract_id: UUID, kind: str) -> RenderedContract | None:
        with self._lock:
            kept = self._rendered.get((contract_id, kind))
            if kept is None:
                return None
            if time.monotonic() - kept.kept_at > self._max_age:
                self._drop_rendered(contract_id, (kind,))
                return None
            self._rendered.move_to_end((contract_id, kind))
            return kept

    def keep_rendered(
        self,
        contract_id: UUID,
        kind: str,
        version: int,
        head_digest: str,
        body: Any,
        size: int,
        members: frozenset[str],
        grants: tuple[Any, ...],
    ) -> None:
        """Keep a rendered view of the current state at `version` (an older one than kept is
        ignored)."""
        limit = self._max_bytes // 8
        if size > limit:
            return
        entry = RenderedContract(
            version, head_digest, body, size, members, grants, time.monotonic()
        )
        with self._lock:
            kept = self._rendered.get((contract_id, kind))
            if kept is not None and kept.version > version:
                return
            self._drop_rendered(contract_id, (kind,))
            self._rendered[(contract_id, kind)] = entry
            self._rendered_bytes += size
            while self._rendered_bytes > limit and self._rendered:
                _, evicted = self._rendered.popitem(last=False)
                self._rendered_bytes -= evicted.size

    def _drop_rendered(
        self, contract_id: UUID, kinds: tuple[str, ...] = RENDERED_KINDS
    ) -> None:  # with the lock held
        for kind in kinds:
            kept = self._rendered.pop((contract_id, kind), None)
            if kept is not None:
                self._rendered_bytes -= kept.size

    def expire(self) -> None:
        """Drop every entry older than `max_age` (also done on the way by `get`)."""
        now = self._swept_at = time.monotonic()
        with self._lock:
            for contract_id in [
                k for k, e in self._entries.items() if now - e.kept_at > self._max_age
            ]:
                self._drop(contract_id)
            for contract_id, kind in [
                k for k, e in self._rendered.items() if now - e.kept_at > self._max_age
            ]:
                self._drop_rendered(contract_id, (kind,))

    def _drop(self, contract_id: UUID) -> None:  # with the lock held
        kept = self._entries.pop(contract_id, None)
        if kept is not None:
            self._bytes -= kept.size

    @property
    def size_bytes(self) -> int:
        return self._bytes


__all__ = ["AggregateCache", "CachedContract", "RenderedContract"]
