"""The change feed (issue 15): the global order of contract events a caller may see, one page at
a time, each event as a CloudEvents 1.0 object (NL GOV CloudEvents profile).

Positions are the event store's notification ids: stable, increasing in commit order, with gaps
(a rolled-back insert uses an id up). A reader that passes `nextCursor` back as `after` sees
every event exactly once, in order, because no event can commit below a position a reader
already passed:

* PostgreSQL: every insert takes the events table's EXCLUSIVE lock before drawing ids and holds
  it through its commit (the library's recorder; `POSTGRES_ENABLE_DB_FUNCTIONS=n` and the group
  commit keep it, see infrastructure/postgres.py), so ids are handed out in commit order and a
  reader never sees id n+1 while n is still in flight. The alternative — capping each read below
  `pg_snapshot_xmin(pg_current_snapshot())` with a transaction-id column — would need a schema
  change and a second index for what the lock already guarantees.
* SQLite: one writer at a time, ids assigned inside its transaction.
* memory: one lock around every insert.

Who sees what is the rule of every other read (`ContractStore._visible`): the contract's members
now, and outside organisations while a grant of the commissioner holds (its `until` and a
revocation respected), judged when the page is read. Each page reads at most `MAX_SCAN`
notifications, so a filter that matches little still answers quickly, with a cursor that moves on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic
from pydantic import Field

from application.contract_store import ContractStore, contract_uuid
from application.errors import ContractNotFound, InvalidQuery
from application.history import history_entry
from application.principal import Principal
from application.views import Data
from domain.events import ContractEvent

TYPE_PREFIX = "nl.dialoog.contract."
#: Notifications read per page at most, whatever the filters (bounded work per request).
MAX_SCAN = 5_000
MAX_LIMIT = 500


class CloudEvent(Data):
    """One contract event as a CloudEvents 1.0 JSON object (NL GOV CloudEvents profile)."""

    specversion: str = "1.0"
    id: str = Field(description="Unique per source: the contract id and its version")
    source: str
    type: str = Field(examples=["nl.dialoog.contract.proposal-agreed"])
    time: str = Field(description="When the event was recorded (RFC 3339)")
    subject: str = Field(description="The contract id")
    sequence: str = Field(description="The event's position in the feed (an integer)")
    sequencetype: str = "Integer"
    datacontenttype: str = "application/json"
    data: dict[str, Any]


class FeedPage(Data):
    items: list[CloudEvent]
    next_cursor: int = Field(
        description="Pass as `after` for the next page; the position this page read up to "
        "(the same as `after` when nothing new was committed)"
    )


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _event_classes() -> Iterator[type[ContractEvent]]:
    pending: list[type[ContractEvent]] = [ContractEvent]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls is not ContractEvent and cls.__module__ == ContractEvent.__module__:
            yield cls


def event_type(cls: type[ContractEvent]) -> str:
    """The CloudEvents type of an event class: `nl.dialoog.contract.proposal-agreed`."""
    return TYPE_PREFIX + _kebab(cls.__name__)


def type_topics() -> dict[str, str]:
    """Every CloudEvents type this service emits, and the stored topic of its events."""
    return {event_type(cls): get_topic(cls) for cls in _event_classes()}


@dataclass(frozen=True)
class FeedQuery:
    after: int = 0
    limit: int = 100
    contract_id: str | None = None
    types: tuple[str, ...] = ()


def feed_page(
    store: ContractStore, principal: Principal, query: FeedQuery, source: str
) -> FeedPage:
    """The events after `query.after` the caller may see, oldest first."""
    topics = checked(store, principal, query)
    only = contract_uuid(query.contract_id) if query.contract_id is not None else None
    visible: dict[UUID, bool] = {}
    items: list[CloudEvent] = []
    position = query.after
    scanned = 0
    # Everything up to the head read first is committed (or rolled back, leaving a gap): see
    # the module's docstring. A page that reads to it moves the cursor there, past positions
    # that hold nothing for this caller, so the next read starts where new events will be.
    head = feed_head(store)
    while len(items) < query.limit and scanned < MAX_SCAN and position < head:
        batch_size = min(max(query.limit * 2, 100), MAX_SCAN - scanned)
        with store._store_errors():
            batch = store.recorder.select_notifications(
                start=position,
                limit=batch_size,
                stop=head,
                topics=topics,
                inclusive_of_start=False,
            )
        if not batch:
            position = head
            break
        scanned += len(batch)
        for notification in batch:
            originator = UUID(str(notification.originator_id))
            if (only is None or originator == only) and _may_see(
                store, principal, originator, visible
            ):
                event = store.mapper.to_domain_event(notification)
                if isinstance(event, ContractEvent):
                    items.append(cloud_event(event, notification.id, source))
            position = notification.id
            if len(items) == query.limit:
                break
        if len(batch) < batch_size and len(items) < query.limit:
            position = head
            break
    return FeedPage(items=items, next_cursor=max(position, query.after))


def feed_head(store: ContractStore) -> int:
    """The last committed position of the whole log (0 when empty)."""
    with store._store_errors():
        return store.recorder.max_notification_id() or 0


def checked(store: ContractStore, principal: Principal, query: FeedQuery) -> list[str]:
    """The stored topics the query asks for; InvalidQuery for a bad query, ContractNotFound for
    a contract the caller may not see."""
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}")
    if query.after < 0:
        raise InvalidQuery("after must not be negative")
    topics = _topics(query.types)
    if query.contract_id is not None:
        store._visible(principal, query.contract_id)  # 404 unless visible
    return topics


def _topics(types: Sequence[str]) -> list[str]:
    if not types:
        return sorted(type_topics().values())
    known = type_topics()
    unknown = sorted(set(types) - set(known))
    if unknown:
        raise InvalidQuery(
            f"unknown event type {unknown[0]!r}; types look like {TYPE_PREFIX}proposal-agreed"
        )
    return sorted({known[t] for t in types})


def _may_see(
    store: ContractStore, principal: Principal, contract_id: UUID, seen: dict[UUID, bool]
) -> bool:
    if contract_id not in seen:
        try:
            store._visible(principal, contract_id.hex)  # the one visibility rule
            seen[contract_id] = True
        except ContractNotFound:
            seen[contract_id] = False
    return seen[contract_id]


def cloud_event(event: ContractEvent, position: int, source: str) -> CloudEvent:
    entry = history_entry(event)
    return CloudEvent(
        id=f"{event.originator_id.hex}-{event.originator_version}",
        source=source,
        type=event_type(type(event)),
        time=event.timestamp.isoformat(),
        subject=event.originator_id.hex,
        sequence=str(position),
        data=entry.model_dump(mode="json", by_alias=True, exclude={"type"}),
    )
