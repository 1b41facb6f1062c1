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
revocation respected), judged when the page is read — from the read models (the contract list's
rule, caught up first) where the service keeps them, else by loading each contract once. Each
page reads at most `MAX_SCAN` notifications, so a filter that matches little still answers
quickly, with a cursor that moves on.

Speed: each event's CloudEvent is rendered once, when the event is stored, as a feed entry
(`feed_entries`; infrastructure writes it in the same transaction, under the same writer lock,
so an entry commits with its event): JSON bytes without `source` and `sequence`, its personal
texts still sealed, stored split at them (`_SEPARATOR`). A page reads the entries with the
filters applied in the store, and per entry only opens its sealed texts (one split of the bytes
and AES-GCM) and puts `source` and `sequence` in: no JSON parse, no walk, no model; the page is
joined from the entries' bytes. Personal texts
stay erasable: a destroyed key reads `[gewist]` in the feed as everywhere, and the entries hold
no text in the clear. A record only the mapper reads right (an older class version or stored
form) gets an entry without a body and is read from its event when shown. Entries are derived:
the events are the record; a store that predates them gets them when its tables are made.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, cached_property
from typing import Any, NamedTuple, Protocol, runtime_checkable
from uuid import UUID

import orjson
from eventsourcing.utils import get_topic
from pydantic import Field

from application.contract_store import ContractStore, contract_uuid
from application.errors import ContractNotFound, HistoryCorrupt, InvalidQuery
from application.history import history_entry
from application.personal_data import EncodedOpener, PersonalData, SealedAsDict
from application.principal import Principal
from application.stored_form import NotARecord, originator_uuid, read_record
from application.views import Data
from domain.events import ContractEvent
from domain.values import local_date

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
    """The shape of a page of the feed as the API sends it (`Feed`, encoded once)."""

    items: list[CloudEvent]
    next_cursor: int = Field(
        description="Pass as `after` for the next page; the position this page read up to "
        "(the same as `after` when nothing new was committed)"
    )


@dataclass(frozen=True)
class Feed:
    """A page of the feed: each CloudEvent as JSON in the shape of `CloudEvent` (rendered once,
    when its event was stored; personal texts opened as the page is read), and the cursor to
    read on from."""

    encoded: list[bytes]
    next_cursor: int

    @cached_property
    def items(self) -> list[dict[str, Any]]:
        """The CloudEvents as data (the SSE stream and webhook deliveries read fields of each)."""
        return [orjson.loads(item) for item in self.encoded]

    def to_json(self) -> bytes:
        """The page as the API sends it (`FeedPage`), put together without decoding an item."""
        end = b'],"nextCursor":%d}' % self.next_cursor
        if not self.encoded:
            return b'{"items":[' + end
        parts = [b","] * (2 * len(self.encoded) + 1)  # every item copied once
        parts[0], parts[1:-1:2], parts[-1] = b'{"items":[', self.encoded, end
        return b"".join(parts)


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _event_classes() -> Iterator[type[ContractEvent]]:
    pending: list[type[ContractEvent]] = [ContractEvent]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls is not ContractEvent and cls.__module__ == ContractEvent.__module__:
            yield cls


@cache
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


def feed_page(store: ContractStore, principal: Principal, query: FeedQuery, source: str) -> Feed:
    """The events after `query.after` the caller may see, oldest first: their entries, read
    from the store with the filters applied there, each checked against the one visibility rule
    and its personal texts opened."""
    checked(store, principal, query)
    entries = _feed_store(store)
    only = contract_uuid(query.contract_id).hex if query.contract_id is not None else None
    source_json = orjson.dumps(source)
    may_see: MaySee | None = None
    seen: dict[str, bool] = {}
    encoded: list[bytes] = []
    position = query.after
    scanned = 0
    # Everything up to the head read first is committed (or rolled back, leaving a gap): see
    # the module's docstring. A page that reads to it moves the cursor there, past positions
    # that hold nothing for this caller, so the next read starts where new events will be.
    batch_size = min(query.limit, MAX_SCAN)  # most callers see most events
    with store._store_errors():
        head, batch = entries.feed_entries_to_head(
            position, batch_size, types=query.types, contract_id=only
        )
    while batch:
        scanned += len(batch)
        if may_see is None:  # decided after the head was read: as new as what it shows
            may_see = visibility(store, principal, head)
        for contract_id in {entry.contract_id for entry in batch} - seen.keys():
            seen[contract_id] = may_see(UUID(hex=contract_id))
        shown: list[FeedEntry] = []
        pieces: list[list[bytes]] = []
        for entry in batch:
            if seen[entry.contract_id]:
                shown.append(entry)
                pieces.append(_pieces(entry))
            position = entry.position
            if len(encoded) + len(shown) == query.limit:
                break
        with store._store_errors():  # one read of the keys the shown entries' texts need
            keys = store.personal_data.keys_by_id(
                key_id.decode() for key_id in {k for split in pieces for k in split[1::5]}
            )
        opener = store.personal_data.opener(keys)
        for entry, split in zip(shown, pieces, strict=True):
            item = (
                _from_event(store, entry, source)
                if entry.body is None
                else _entry_json(entry, split, source_json, opener)
            )
            if item is not None:
                encoded.append(item)
        if len(encoded) == query.limit or scanned >= MAX_SCAN:
            break
        if len(batch) < batch_size and position == batch[-1].position:  # read to the head
            position = head
            break
        # Too few the caller may see: read on, twice as many.
        batch_size = min(max(query.limit - len(encoded), batch_size * 2, 100), MAX_SCAN - scanned)
        with store._store_errors():
            batch = entries.feed_entries(
                position, head, batch_size, types=query.types, contract_id=only
            )
    else:  # nothing (more) up to the head
        position = max(position, head)
    return Feed(encoded, max(position, query.after))


def _feed_store(store: ContractStore) -> FeedStore:
    if not isinstance(store.recorder, FeedStore):
        raise InvalidQuery("this event store keeps no change feed")
    return store.recorder


def _from_event(store: ContractStore, entry: FeedEntry, source: str) -> bytes | None:
    """An entry not rendered when stored (an older class version or stored form): read from its
    event, through the mapper and its upcaster where the stored form cannot say."""
    with store._store_errors():
        found = store.recorder.select_notifications(start=entry.position, limit=1)
    if not found or found[0].id != entry.position:
        return None
    notification = found[0]
    item = stored_cloud_event(notification, source, store.personal_data)
    if item is None:
        event = store.mapper.to_domain_event(notification)
        if not isinstance(event, ContractEvent):
            return None
        item = cloud_event(event, notification.id, source)
    return orjson.dumps(item)


def feed_head(store: ContractStore) -> int:
    """The last committed position of the whole log (0 when empty)."""
    with store._store_errors():
        return store.recorder.max_notification_id() or 0


def checked(store: ContractStore, principal: Principal, query: FeedQuery) -> None:
    """InvalidQuery for a bad query (an unknown type among them), ContractNotFound for a
    contract the caller may not see."""
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}")
    if query.after < 0:
        raise InvalidQuery("after must not be negative")
    _known_types(query.types)
    if query.contract_id is not None:
        store._visible(principal, query.contract_id)  # 404 unless visible


def _known_types(types: Sequence[str]) -> None:
    unknown = sorted(set(types) - type_topics().keys())
    if unknown:
        raise InvalidQuery(
            f"unknown event type {unknown[0]!r}; types look like {TYPE_PREFIX}proposal-agreed"
        )


#: Whether the caller may see a contract's events (by its id).
MaySee = Callable[[UUID], bool]


def visibility(store: ContractStore, principal: Principal, head: int) -> MaySee:
    """The rule of every read (`ContractStore._visible`): members now, and outside organisations
    while a grant holds. With read models, the contracts the caller's organisation may see
    as the read models say once caught up to the head already read (the rule the contract list
    applies; `Projection.visible_ids`: kept while no later head is asked for); without them,
    each contract loaded once."""
    if store.projection is None:
        return _loading_visibility(store, principal)
    with store._store_errors():
        ids = store.projection.visible_ids(principal.org, local_date(datetime.now(UTC)), head)
    return lambda contract_id: contract_id.hex in ids


def _loading_visibility(store: ContractStore, principal: Principal) -> MaySee:
    seen: dict[UUID, bool] = {}

    def may_see(contract_id: UUID) -> bool:
        if contract_id not in seen:
            try:
                store._visible(principal, contract_id.hex)  # the one visibility rule
                seen[contract_id] = True
            except ContractNotFound:
                seen[contract_id] = False
        return seen[contract_id]

    return may_see


def cloud_event(event: ContractEvent, position: int, source: str) -> dict[str, Any]:
    """The CloudEvent of a domain event, through the models (the reference the stored form's
    fast path is tested against, and the path of records stored under an older class version)."""
    entry = history_entry(event)
    return CloudEvent(
        id=f"{event.originator_id.hex}-{event.originator_version}",
        source=source,
        type=event_type(type(event)),
        time=event.timestamp.isoformat(),
        subject=event.originator_id.hex,
        sequence=str(position),
        data=entry.model_dump(mode="json", by_alias=True, exclude={"type"}),
    ).model_dump(mode="json", by_alias=True)


#: The event class of each stored topic.
_CLASSES: dict[str, type[ContractEvent]] = {}


def stored_cloud_event(
    notification: Any, source: str, personal_data: PersonalData
) -> dict[str, Any] | None:
    """The CloudEvent read straight from the stored record, without building the domain event
    or a model: the stored JSON is the canonical form the history shows; one walk unwraps it
    and opens its personal texts. None for a record stored under an older class version, which
    only its upcaster reads right, or one this path cannot read."""
    cls = _classes().get(notification.topic)
    if cls is None:
        return None
    try:
        record = read_record(notification.state, plain=False)
    except NotARecord:
        return None
    if record.form != 2:
        return None  # the first stored form: through the mapper
    contract_id = originator_uuid(notification.originator_id).hex
    version = notification.originator_version
    try:
        opened = personal_data.open_stored(
            {"payload": record.payload, "metadata": record.metadata},
            contract_id=contract_id,
            version=version,
        )
    except ValueError:
        return None
    document = _document(cls, contract_id, version, record, opened["payload"], opened["metadata"])
    if document is None:
        return None
    return {"source": source, "sequence": str(notification.id), **document}


def _classes() -> dict[str, type[ContractEvent]]:
    if not _CLASSES:
        _CLASSES.update({get_topic(cls): cls for cls in _event_classes()})
    return _CLASSES


def _document(
    cls: type[ContractEvent],
    contract_id: str,
    version: int,
    record: Any,
    payload: dict[str, Any],
    metadata: dict[str, Any],
) -> dict[str, Any] | None:
    """A CloudEvent but its `source` and `sequence` (the setting and the position)."""
    if payload.pop("class_version", 1) != getattr(cls, "class_version", 1):
        return None
    actor = metadata["actor"] or {}
    return {
        "specversion": "1.0",
        "id": f"{contract_id}-{version}",
        "type": event_type(cls),
        "time": record.recorded_at,
        "subject": contract_id,
        "sequencetype": "Integer",
        "datacontenttype": "application/json",
        "data": {
            "version": version,
            "recordedAt": _json_time(record.recorded_at),
            "effectiveOn": metadata["effective_on"],
            "actor": {
                "sub": actor.get("subject", ""),
                "name": actor.get("name", ""),
                "org": actor.get("org", ""),
                "role": actor.get("role", ""),
            },
            "sessionId": metadata["session_id"],
            "decisionRef": metadata["decision_ref"],
            "reason": metadata["reason"] or "",
            "data": payload,
            "digest": record.digest,
            "priorDigest": record.prior_digest,
        },
    }


# The feed's entries: each event's CloudEvent rendered once, when it is stored ----------------

#: A personal text in a rendered entry, still sealed, opened when a page is read (an erased key
#: reads `[gewist]` there as everywhere). Rendered as `{"_sealed_":["<key id>","<nonce>",
#: "<ciphertext>","<place>"]}`, its parts without quotes or backslashes (`_PLAIN`). It is a JSON
#: object, and a text a user writes is a JSON string, in which every quote is escaped: no text
#: can pose as one, so every `_SPAN_START` starts a span and the first `_SPAN_END` after it ends
#: it. An entry is stored split at its spans (`_SEPARATOR`; see `_pieces`).
_SPAN_START = b'{"_sealed_":["'
_SPAN_END = b'"]}'
_SPAN_PARTS = b'","'
#: Between the pieces of a stored entry: text, then key id, nonce, ciphertext, place and text
#: for each sealed text. JSON as orjson writes it never holds a NUL byte (it escapes control
#: characters), so one split in C gives the pieces back.
_SEPARATOR = b"\x00"
#: What a key id, a base64url value and a place consist of (anything else: rendered at read).
_PLAIN = re.compile(r"[A-Za-z0-9._:\-]*\Z")


class FeedEntry(NamedTuple):
    """One contract event as the feed keeps it: its CloudEvent but for `source` and `sequence`,
    personal texts sealed (`body`; None for a record only the mapper reads right: an older
    class version or stored form, read from the event at read time)."""

    position: int
    contract_id: str
    version: int
    type: str
    body: bytes | None


@runtime_checkable
class FeedStore(Protocol):
    """What an event store that keeps the feed's entries offers (infrastructure's recorders
    write them in the transaction that stores their events)."""

    def feed_entries(
        self,
        after: int,
        stop: int,
        limit: int,
        *,
        types: Sequence[str] = (),
        contract_id: str | None = None,
    ) -> list[FeedEntry]:
        """Entries at positions in (after, stop], oldest first, at most `limit`."""
        ...

    def feed_entries_to_head(
        self,
        after: int,
        limit: int,
        *,
        types: Sequence[str] = (),
        contract_id: str | None = None,
    ) -> tuple[int, list[FeedEntry]]:
        """The log's last committed position (0 when empty, as `feed_head`) and the entries
        after `after` up to it, read together."""
        ...


def feed_entries(stored_events: Sequence[Any], positions: Sequence[int] | None) -> list[FeedEntry]:
    """The feed's entries of contract events being stored at these positions."""
    entries = []
    classes = _classes()
    for event, position in zip(stored_events, positions or (), strict=False):
        cls = classes.get(event.topic)
        if cls is None:
            continue
        contract_id = originator_uuid(event.originator_id).hex
        version = event.originator_version
        body = _rendered(event.state, cls, contract_id, version)
        if body is not None:
            body = _SEPARATOR.join(_split_spans(body, position))
        entries.append(FeedEntry(position, contract_id, version, event_type(cls), body))
    return entries


def _rendered(
    state: bytes, cls: type[ContractEvent], contract_id: str, version: int
) -> bytes | None:
    try:
        record = read_record(state, plain=False)
    except NotARecord:
        return None
    if record.form != 2:
        return None
    try:
        payload = _spans(record.payload, "payload")
        metadata = _spans(record.metadata, "metadata")
    except ValueError:
        return None
    document = _document(cls, contract_id, version, record, payload, metadata)
    return None if document is None else orjson.dumps(document)


def _spans(value: Any, at: str) -> Any:
    """Stored data unwrapped as `open_stored` does, every sealed text a span (`_SPAN_START`)."""
    if type(value) is dict:
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            if value["_type_"] == "sealed":
                sealed = value["_data_"]
                SealedAsDict().decode(sealed)  # ValueError unless {keyId, nonce, ciphertext}
                parts = [sealed["keyId"], sealed["nonce"], sealed["ciphertext"], at]
                if not all(_PLAIN.match(part) for part in parts):
                    raise ValueError("a sealed text this form cannot carry")
                return {"_sealed_": parts}
            return _spans(value["_data_"], at)
        return {
            k: _spans(v, f"{at}.{k}") if type(v) is dict or type(v) is list else v
            for k, v in value.items()
        }
    if type(value) is list:
        return [
            _spans(v, f"{at}.{i}") if type(v) is dict or type(v) is list else v
            for i, v in enumerate(value)
        ]
    return value


def _split_spans(body: bytes, position: int) -> list[bytes]:
    """Rendered JSON split at its sealed texts (`_SPAN_START`): text, then key id, nonce,
    ciphertext, place and text for each."""
    pieces: list[bytes] = []
    done = 0
    at = body.find(_SPAN_START)
    while at != -1:
        inner = at + len(_SPAN_START)
        end = body.find(_SPAN_END, inner)
        parts = body[inner:end].split(_SPAN_PARTS)
        if end == -1 or len(parts) != 4:
            raise HistoryCorrupt(
                f"the feed entry at position {position} holds a damaged sealed text; "
                "ask for the verification of its contract"
            )
        pieces += (body[done:at], *parts)
        done = end + len(_SPAN_END)
        at = body.find(_SPAN_START, done)
    pieces.append(body[done:])
    return pieces


def _pieces(entry: FeedEntry) -> list[bytes]:
    """The pieces of a stored entry (`_SEPARATOR`): text, then key id, nonce, ciphertext, place
    and text for each sealed text."""
    body = entry.body or b""
    pieces = body.split(_SEPARATOR)
    if len(pieces) == 1 and _SPAN_START in body:  # stored whole (before 2026-12-04's form)
        return _split_spans(body, entry.position)
    if len(pieces) % 5 != 1:
        raise HistoryCorrupt(
            f"the feed entry at position {entry.position} is damaged; ask for the verification "
            "of its contract"
        )
    return pieces


def _entry_json(
    entry: FeedEntry, pieces: list[bytes], source: bytes, opener: EncodedOpener
) -> bytes:
    """The CloudEvent of an entry as JSON from its pieces (`_pieces`, opened in place):
    `source` and `sequence` put in, its sealed texts opened."""
    if len(pieces) == 1:
        body = pieces[0]
    else:
        contract_id, version = entry.contract_id.encode(), entry.version
        for at in range(1, len(pieces), 5):  # in place: the key id's piece becomes the text
            pieces[at] = orjson.dumps(
                opener(
                    pieces[at], pieces[at + 1], pieces[at + 2], contract_id, version, pieces[at + 3]
                )
            )
            pieces[at + 1] = pieces[at + 2] = pieces[at + 3] = b""
        body = b"".join(pieces)
    return b'{"source":%b,"sequence":"%d",%b' % (source, entry.position, body[1:])


def _json_time(text: str) -> str:
    """A stored moment as the models write it in JSON (UTC as `Z`)."""
    moment = datetime.fromisoformat(text)
    written = moment.isoformat()
    if moment.utcoffset() == timedelta(0):
        return written.removesuffix("+00:00") + "Z"
    return written
