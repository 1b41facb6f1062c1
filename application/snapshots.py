"""Sealed snapshots: a cache nobody can alter behind the chain's back.

Every read starts from the latest snapshot at or before the version asked for, so an altered
snapshot row would change what everyone reads while the hash chain of the events stays intact.
Each snapshot is therefore stored with an HMAC-SHA256 seal over (contract id, version, stored
state) under a key the database does not hold. A snapshot whose seal does not verify — altered,
moved to another version or contract, or written under another key — is skipped: the read falls
back to the snapshot before it, or to the events alone, and the damage is logged.

The seal also covers the state version of the aggregate (`Contract.STATE_VERSION`): when the
rules that derive state from events change, snapshots sealed under an older state version are
passed over quietly (they are outdated caches, not damage) and replaced as new ones are taken.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import EventStore, Mapper, Recording, StoredEvent

from application.stored_form import record_digest

log = logging.getLogger(__name__)

SEAL_PREFIX = b"hmac-sha256:"
SEAL_LENGTH = len(SEAL_PREFIX) + 64 + 1  # prefix, hex digest, newline


#: The first line of a sealed body that names the head digest of the snapshot's state, so a
#: reader holds the snapshot against the chain without parsing the whole state.
HEAD_LINE = b"head:"


def seal(
    key: bytes,
    originator_id: UUID | str,
    version: int,
    state: bytes,
    state_version: int = 1,
    head: str | None = None,
) -> bytes:
    """The stored form of a snapshot: the seal, then (with `head`) the head digest its state
    names, then the state. The seal covers both."""
    body = state if head is None else HEAD_LINE + head.encode() + b"\n" + state
    return SEAL_PREFIX + _tag(key, originator_id, version, body, state_version) + b"\n" + body


def opened(
    key: bytes, originator_id: UUID | str, version: int, sealed: bytes, state_version: int = 1
) -> tuple[str | None, bytes] | None:
    """The head digest the seal names (None for snapshots sealed without one) and the stored
    state, if the seal holds for this state version; else None."""
    if not sealed.startswith(SEAL_PREFIX) or len(sealed) < SEAL_LENGTH:
        return None
    tag, body = sealed[len(SEAL_PREFIX) : SEAL_LENGTH - 1], sealed[SEAL_LENGTH:]
    if not hmac.compare_digest(tag, _tag(key, originator_id, version, body, state_version)):
        return None
    if body.startswith(HEAD_LINE):
        line, _, state = body.partition(b"\n")
        return line[len(HEAD_LINE) :].decode("ascii", "replace"), state
    return None, body


def unseal(
    key: bytes, originator_id: UUID | str, version: int, sealed: bytes, state_version: int = 1
) -> bytes | None:
    """The stored state if its seal holds for this state version, else None."""
    found = opened(key, originator_id, version, sealed, state_version)
    return None if found is None else found[1]


def is_outdated(
    key: bytes, originator_id: UUID | str, version: int, sealed: bytes, state_version: int
) -> bool:
    """Was this snapshot sealed, intact, under an older state version?"""
    return any(
        unseal(key, originator_id, version, sealed, older) is not None
        for older in range(1, state_version)
    )


def _tag(
    key: bytes, originator_id: UUID | str, version: int, state: bytes, state_version: int
) -> bytes:
    # State version 1 is left out of the identity, so snapshots sealed before state versions
    # existed keep their seals.
    suffix = f"state {state_version}\n" if state_version > 1 else ""
    identity = f"{originator_id}\n{version}\n{suffix}".encode()
    return hmac.new(key, identity + state, hashlib.sha256).hexdigest().encode()


class SealedSnapshotStore(EventStore[UUID]):
    """The snapshot store of the contract service."""

    #: Broken snapshots looked past before giving up and reading the events alone.
    MAX_SKIPPED = 3

    def __init__(
        self,
        mapper: Mapper[UUID],
        recorder: Any,
        key: bytes,
        state_version: int = 1,
        events: Any = None,
    ) -> None:
        super().__init__(mapper=mapper, recorder=recorder)
        self._key = key
        self._state_version = state_version
        #: the events' recorder: a snapshot is used only if its head digest is the chain's
        self._events = events
        self._reported: set[tuple[str, int]] = set()

    def put(
        self, domain_events: Sequence[DomainEventProtocol[UUID]], **kwargs: Any
    ) -> list[Recording[UUID]]:
        stored = []
        for event in domain_events:
            record = self.mapper.to_stored_event(event)
            stored.append(
                StoredEvent(
                    originator_id=record.originator_id,
                    originator_version=record.originator_version,
                    topic=record.topic,
                    state=seal(
                        self._key,
                        record.originator_id,
                        record.originator_version,
                        record.state,
                        self._state_version,
                        head=_head_of(event),
                    ),
                )
            )
        self.recorder.insert_events(stored, **kwargs)
        return []  # snapshots are not in the notification log: nothing to record

    def get(
        self,
        originator_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Iterator[Any]:
        """Snapshots whose seals hold; a broken one is skipped as if it had never been taken."""
        found = skipped = 0
        while limit is None or found < limit:
            rows = self.recorder.select_events(
                originator_id, gt=gt, lte=lte, desc=desc, limit=limit
            )
            for row in rows:
                identity = (self._key, row.originator_id, row.originator_version, row.state)
                unsealed = opened(*identity, self._state_version)
                if unsealed is None:
                    # Taken under older rules is not damage, just not usable: not reported.
                    if not is_outdated(*identity, self._state_version):
                        self._report(row.originator_id, row.originator_version)
                    skipped += 1
                    if skipped > self.MAX_SKIPPED:
                        return  # many broken seals (a changed key?): replay from the events
                    continue
                head, state = unsealed
                if not self._on_the_chain(row.originator_id, row.originator_version, state, head):
                    self._report(row.originator_id, row.originator_version, "the chain")
                    skipped += 1
                    if skipped > self.MAX_SKIPPED:
                        return
                    continue
                found += 1
                yield self.mapper.to_domain_event(
                    StoredEvent(row.originator_id, row.originator_version, row.topic, state)
                )
                if limit is not None and found >= limit:
                    return
            if limit is None or not rows or len(rows) < limit:
                return
            # Every row of this page was skipped or used: look further along.
            if desc:
                lte = rows[-1].originator_version - 1
            else:
                gt = rows[-1].originator_version

    def _on_the_chain(
        self, originator_id: UUID | str, version: int, state: bytes, head: str | None = None
    ) -> bool:
        """Does the snapshot's head digest equal the digest of the event at its version? (One
        row read; a snapshot whose seal holds but that stands on another chain — written with
        the key, or the chain rewritten under it — is not used.)"""
        if self._events is None:
            return True
        rows = self._events.select_events(originator_id, gt=version - 1, lte=version)
        if len(rows) != 1:
            return False
        digest = record_digest(rows[0].state)
        head = head if head is not None else snapshot_head(state)
        return head is not None and digest is not None and hmac.compare_digest(head, digest)

    def _report(self, originator_id: object, version: int, what: str = "its seal") -> None:
        entry = (str(originator_id), version)
        if entry in self._reported:
            return
        if len(self._reported) < 10_000:
            self._reported.add(entry)
        log.warning("snapshot of %s at version %s fails %s: ignored", *entry, what)


def snapshot_head(state: bytes) -> str | None:
    """The head digest a stored snapshot's state names (None if it names none)."""
    try:
        document = orjson.loads(state)
    except orjson.JSONDecodeError:
        return None
    inner = document.get("state") if isinstance(document, dict) else None
    head = inner.get("head_digest") if isinstance(inner, dict) else None
    return head if isinstance(head, str) else None


def _head_of(snapshot: Any) -> str | None:
    """The head digest a snapshot about to be stored names (None if it names none)."""
    state = getattr(snapshot, "state", None)
    head = state.get("head_digest") if isinstance(state, dict) else None
    return head if isinstance(head, str) else None
