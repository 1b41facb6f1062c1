"""Open data of disclosed contracts for anyone, without a token: a contract's OCDS releases and
record, and every public release in log order for harvesters (application/ocds.py builds them);
for the residents' pages, the public view of one contract and of every contract public now.

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
from application.publicity import PublicContract, disclosed, public_view
from domain.events import ContractEvent, ContractMadePublic

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


def public_contract(store: ContractStore, contract_id: str) -> PublicContract:
    """The public part of a disclosed contract as it stands (else ContractNotFound)."""
    return public_view(disclosed(store._load(contract_uuid(contract_id))))


#: Disclosure notifications read per query to the recorder.
_DISCLOSURE_BATCH = 500


def public_contracts(store: ContractStore) -> list[PublicContract]:
    """Every contract public now, by commissioner and reference. Only contracts that were ever
    disclosed are loaded (found through their disclosure events in the log, not by loading
    every contract); a withdrawn disclosure leaves the contract out."""
    topics = [get_topic(ContractMadePublic)]
    head = feed_head(store)
    position = 0
    candidates: dict[UUID, None] = {}
    while position < head:
        with store._store_errors():
            batch = store.recorder.select_notifications(
                start=position,
                limit=_DISCLOSURE_BATCH,
                stop=head,
                topics=topics,
                inclusive_of_start=False,
            )
        for notification in batch:
            candidates[UUID(str(notification.originator_id))] = None
        if len(batch) < _DISCLOSURE_BATCH:
            break
        position = batch[-1].id
    found: list[PublicContract] = []
    for uuid in candidates:
        try:
            found.append(public_view(disclosed(store._load(uuid))))
        except ContractNotFound:  # withdrawn since
            continue
    return sorted(found, key=lambda c: (c.commissioner, c.reference, c.id))
