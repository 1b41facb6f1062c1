"""The contract's events for auditors, oldest first, a page at a time."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import EventStore

from application.views import ActorData, HistoryEntry, HistoryPage
from domain.chain import canonical, split_fields
from domain.events import ContractEvent


def history_page(
    events: EventStore[UUID], contract_id: UUID, *, after: int, limit: int
) -> HistoryPage:
    """Events after a version; reads `limit + 1` by the (id, version) index, whatever `after`."""
    page = list(events.get(contract_id, gt=after, limit=limit + 1))
    items = [history_entry(e) for e in page[:limit] if isinstance(e, ContractEvent)]
    next_cursor = items[-1].version if len(page) > limit and items else None
    return HistoryPage(items=items, next_cursor=next_cursor)


def history_entry(event: ContractEvent) -> HistoryEntry:
    fields = dict(vars(event))
    payload, _ = split_fields(fields)
    for name in ("originator_id", "originator_version"):
        payload.pop(name, None)
    return HistoryEntry(
        version=event.originator_version,
        type=type(event).__name__,
        recorded_at=event.timestamp,
        effective_on=event.effective_on,
        actor=ActorData.of(event.actor),
        session_id=event.session_id,
        decision_ref=event.decision_ref,
        reason=event.reason,
        data=canonical(payload),
        digest=event.digest,
        prior_digest=event.prior_digest,
    )
