"""Open data of disclosed contracts for anyone, without a token: a contract's OCDS releases and
record, and every public release in log order for harvesters (application/ocds.py builds them).

A contract its commissioner has not made public (or whose disclosure was withdrawn) does not
exist here: the answer is the same 404 as for a missing id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from application.contract_store import ContractStore, contract_uuid
from application.errors import ContractNotFound, InvalidQuery
from application.feed import MAX_SCAN, feed_head
from application.ocds import RELEASE_TAGS, releases
from application.publicity import disclosed
from domain.events import ContractEvent

MAX_LIMIT = 100


def contract_releases(store: ContractStore, contract_id: str, prefix: str) -> list[dict[str, Any]]:
    """The releases of a disclosed contract, oldest first."""
    uuid = contract_uuid(contract_id)
    disclosed(store._load(uuid))
    return _all_releases(store, uuid, prefix)


def _all_releases(store: ContractStore, uuid: UUID, prefix: str) -> list[dict[str, Any]]:
    with store._store_errors():
        events = [e for e in store.events.get(uuid) if isinstance(e, ContractEvent)]
    return releases(events, prefix)


@dataclass(frozen=True)
class ReleasePage:
    releases: list[dict[str, Any]]
    next_cursor: int


def public_releases(store: ContractStore, *, after: int, limit: int, prefix: str) -> ReleasePage:
    """Every release of every contract public now, in log order, after a position."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}")
    topics = sorted(get_topic(cls) for cls in RELEASE_TAGS)
    head = feed_head(store)
    position, scanned = after, 0
    found: list[dict[str, Any]] = []
    by_contract: dict[UUID, dict[str, dict[str, Any]] | None] = {}
    while len(found) < limit and scanned < MAX_SCAN and position < head:
        with store._store_errors():
            batch = store.recorder.select_notifications(
                start=position, limit=200, stop=head, topics=topics, inclusive_of_start=False
            )
        if not batch:
            position = head
            break
        scanned += len(batch)
        for notification in batch:
            position = notification.id
            uuid = UUID(str(notification.originator_id))
            if uuid not in by_contract:
                by_contract[uuid] = _public_releases_by_version(store, uuid, prefix)
            known = by_contract[uuid]
            release = known.get(str(notification.originator_version)) if known else None
            if release is not None:
                found.append(release)
                if len(found) == limit:
                    break
        if len(batch) < 200 and len(found) < limit:
            position = head
    return ReleasePage(found, max(position, after))


def _public_releases_by_version(
    store: ContractStore, uuid: UUID, prefix: str
) -> dict[str, dict[str, Any]] | None:
    try:
        disclosed(store._load(uuid))
    except ContractNotFound:
        return None
    return {r["id"].rsplit("-v", 1)[1]: r for r in _all_releases(store, uuid, prefix)}
