"""How contract events are written to and read from the event store: their records.

A contract event is stored as its form-2 record (`domain.chain.record_of`): RFC 8785 bytes that
hold everything needed to decode it, type information included, and whose SHA-256 is the
event's digest. Events recorded before form 2 (form 1: the library's JSON of the event's fields,
the digest stored beside them) are read as they are; both forms are specified in
docs/EVENTS.md.

Reading is strict, in both forms: every field the event class declares, no other, each of its
declared type (value objects and their fields included). A record that does not decode that way
is `HistoryCorrupt`, never reinterpreted — so no type tag, written into the store behind the
chain's back, can turn one kind of value into another.

Other aggregates stored beside the contracts (reference claims, command receipts) keep the
library's mapping.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

from application.errors import HistoryCorrupt
from application.personal_data import PersonalData, SealedAsDict
from domain.chain import (
    RECORD_FORM,
    RECORD_KEYS,
    UNHASHED_FIELDS,
    digest_of_record,
    personal_places,
    record_of,
    split_fields,
)
from domain.events import ContractEvent

#: Contract events are stored under their class's topic in `domain.events`.
CONTRACT_TOPIC_PREFIX = "domain.events:"


def canonical_from_stored(value: Any) -> Any:
    """Plain JSON data from stored JSON: the `{"_type_", "_data_"}` wrappers removed."""
    if isinstance(value, dict):
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            if value["_type_"] == "sealed":  # a personal text: opened by personal_data
                return SealedAsDict().decode(value["_data_"])
            return canonical_from_stored(value["_data_"])
        return {k: canonical_from_stored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical_from_stored(v) for v in value]
    return value


class Record(NamedTuple):
    """A stored contract event read as data, without decoding it into its class: what the
    verifier, the log and the feed need. `payload` and `metadata` are plain JSON data."""

    form: int
    digest: str
    prior_digest: str
    recorded_at: str
    payload: dict[str, Any]
    metadata: dict[str, Any]
    #: form 2: the record's own header (type, contract, version), to hold against the row's
    header: tuple[str, str, int] | None


class NotARecord(ValueError):
    """The stored bytes are not a contract event's record in either form."""


def read_record(state: bytes, *, plain: bool = True) -> Record:
    """The record in a stored contract event's bytes (form 1 or 2), or NotARecord. Without
    `plain`, a form-2 record's payload and metadata keep their type wrappers (what verification
    needs: it hashes the bytes and reads only plain texts of the payload)."""
    try:
        document = orjson.loads(state)
    except orjson.JSONDecodeError:
        raise NotARecord("not JSON") from None
    if not isinstance(document, dict):
        raise NotARecord("not a JSON object")
    if "form" in document:
        return _form_2(state, document, plain)
    return _form_1(document)


def record_digest(state: bytes) -> str | None:
    """The digest of a stored contract event (either form), None for bytes that are no record.
    No decoding: form 2 hashes the bytes, form 1 reads the digest stored beside the fields."""
    try:
        return read_record(state).digest
    except NotARecord:
        return None


def _form_2(state: bytes, document: dict[str, Any], plain: bool) -> Record:
    if document.keys() != RECORD_KEYS or document["form"] != RECORD_FORM:
        raise NotARecord(f"a record of form {document.get('form')!r} with keys it may not have")
    payload, metadata = document["payload"], document["metadata"]
    prior, recorded_at = document["priorDigest"], document["recordedAt"]
    header = (document["type"], document["contractId"], document["version"])
    if not (
        type(payload) is dict
        and type(metadata) is dict
        and type(prior) is str
        and type(recorded_at) is str
        and type(header[0]) is str
        and type(header[1]) is str
        and type(header[2]) is int
    ):
        raise NotARecord("a form-2 record whose header is not what the form says")
    try:
        payload = canonical_from_stored(payload) if plain else payload
        metadata = canonical_from_stored(metadata) if plain else metadata
    except ValueError as error:
        raise NotARecord(str(error)) from None
    return Record(2, digest_of_record(state), prior, recorded_at, payload, metadata, header)


def _form_1(document: dict[str, Any]) -> Record:
    plain = canonical_from_stored(document)
    try:
        digest, prior, recorded_at = plain["digest"], plain["prior_digest"], plain["timestamp"]
    except KeyError:
        raise NotARecord("a record without its digest, prior digest or time") from None
    if not all(isinstance(t, str) for t in (digest, prior, recorded_at)):
        raise NotARecord("a record whose digest, prior digest or time is not text")
    fields = {k: v for k, v in plain.items() if k not in UNHASHED_FIELDS}
    payload, metadata = split_fields(fields)
    return Record(
        form=1,
        digest=digest,
        prior_digest=prior,
        recorded_at=recorded_at,
        payload=payload,
        metadata=metadata,
        header=None,
    )


class RecordMapper(Mapper[UUID]):
    """Writes contract events as form-2 records and reads both forms strictly; leaves every other
    aggregate's events (and snapshots) to the library's mapping. Personal texts are sealed when
    written and opened when read by `personal_data` (application/personal_data.py)."""

    def __init__(self, *, transcoder: Any, personal_data: PersonalData | None = None) -> None:
        super().__init__(transcoder=transcoder)
        self.personal_data = personal_data
        #: the library transcoder's object hook: one `{"_type_", "_data_"}` wrapper decoded
        self._unwrap: Callable[[dict[str, Any]], Any] = transcoder._decode_obj

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        if not isinstance(domain_event, ContractEvent):
            return super().to_stored_event(domain_event)
        topic = get_topic(type(domain_event))
        fields = dict(vars(domain_event))
        originator_id = fields.pop("originator_id")
        version = fields.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:  # as the library stores it, so an upcaster cannot be switched
            fields["class_version"] = class_version
        record = record_of(
            topic=topic,
            contract_id=originator_hex(originator_id),
            version=version,
            fields=fields,
            personal=personal_places(type(domain_event)),
            sealer=self.personal_data,
        )
        if digest_of_record(record) != domain_event.digest:
            raise ValueError(
                f"{topic} v{version}: the record does not hash to the digest the event was "
                "triggered with"
            )
        return StoredEvent(
            originator_id=originator_id, originator_version=version, topic=topic, state=record
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        if not stored_event.topic.startswith(CONTRACT_TOPIC_PREFIX):
            return super().to_domain_event(stored_event)
        where = f"version {stored_event.originator_version} of contract " + originator_hex(
            stored_event.originator_id
        )
        try:
            cls = resolve_topic(stored_event.topic)
            state = self._fields(stored_event)
            if self.personal_data is not None and isinstance(cls, type):
                self.personal_data.open_fields(
                    state,
                    cls,
                    originator_hex(stored_event.originator_id),
                    stored_event.originator_version,
                )
        except HistoryCorrupt:
            raise
        except Exception as error:  # anything a damaged record can make a decoder raise
            message = f"{where} cannot be read ({error}); ask for its verification"
            raise HistoryCorrupt(message) from error
        if not (isinstance(cls, type) and issubclass(cls, ContractEvent)):
            raise HistoryCorrupt(f"{where} names a type that is no contract event")
        class_version = getattr(cls, "class_version", 1)
        from_version = state.pop("class_version", 1)
        if type(from_version) is not int or not 1 <= from_version <= class_version:
            raise HistoryCorrupt(f"{where} has a class version its class does not know")
        try:
            while from_version < class_version:
                getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
                from_version += 1
        except Exception as error:
            raise HistoryCorrupt(f"{where} cannot be upcast ({error!r})") from error
        problem = _mismatch(state, _declared(cls))
        if problem:
            raise HistoryCorrupt(f"{where} is not a {cls.__name__}: {problem}")
        state["originator_id"] = originator_uuid(stored_event.originator_id)
        state["originator_version"] = stored_event.originator_version
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", state)
        return domain_event

    def _fields(self, stored: StoredEvent) -> dict[str, Any]:
        """The event's fields, decoded by their type information, with its digest."""
        record = read_record(stored.state, plain=False)
        if record.form == 1:
            state: dict[str, Any] = self.transcoder.decode(stored.state)
            return state
        # The bytes were parsed once (orjson, in read_record); the type wrappers are decoded
        # from that parse, innermost first, as the transcoder's object hook would.
        document = {
            "payload": self._typed(record.payload),
            "metadata": self._typed(record.metadata),
        }
        contract_id = originator_hex(stored.originator_id)
        if record.header != (stored.topic, contract_id, stored.originator_version):
            raise HistoryCorrupt(
                f"version {stored.originator_version} of contract {contract_id} "
                "holds the record of another event (its header names another type, contract "
                "or version)"
            )
        recorded_at = datetime.fromisoformat(record.recorded_at)
        if recorded_at.tzinfo is None or recorded_at.isoformat() != record.recorded_at:
            raise ValueError("the recorded time is not a timezone-aware ISO 8601 time")
        overlap = document["payload"].keys() & document["metadata"].keys()
        if overlap:
            raise ValueError(f"fields both in payload and metadata: {sorted(overlap)}")
        return {
            **document["payload"],
            **document["metadata"],
            "timestamp": recorded_at,
            "prior_digest": record.prior_digest,
            "digest": record.digest,
        }

    def _typed(self, value: Any) -> Any:
        """A parsed JSON value with every `{"_type_", "_data_"}` wrapper decoded (what
        `json.loads(…, object_hook=transcoder._decode_obj)` makes of the same text)."""
        kind = type(value)
        if kind is dict:
            return self._unwrap({k: self._typed(v) for k, v in value.items()})
        if kind is list:
            return [self._typed(v) for v in value]
        return value


# Strict decoding ---------------------------------------------------------------------------


@functools.cache
def _declared(cls: type) -> dict[str, Any]:
    """The fields a stored event or value object must have, with their declared types."""
    hints = typing.get_type_hints(cls)
    if dataclasses.is_dataclass(cls):
        names = [f.name for f in dataclasses.fields(cls) if f.init or f.name in hints]
    else:
        names = list(hints)
    skipped = {"originator_id", "originator_version"}
    return {
        n: hints[n]
        for n in names
        if n not in skipped and typing.get_origin(hints[n]) is not typing.ClassVar
    }


def _mismatch(fields: Mapping[str, Any], declared: dict[str, Any]) -> str | None:
    """Why `fields` are not exactly the declared fields of their declared types (None: they
    are)."""
    if fields.keys() != declared.keys():
        missing = sorted(declared.keys() - fields.keys())
        extra = sorted(fields.keys() - declared.keys())
        return f"fields missing {missing}, fields it does not have {extra}"
    for name, hint in declared.items():
        if not _conforms(fields[name], hint):
            return f"{name!r} is not a {_name(hint)} ({type(fields[name]).__name__})"
    return None


def _conforms(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, member) for member in typing.get_args(hint))
    if origin in (tuple, list):
        args = typing.get_args(hint)
        element = args[0] if args else Any
        return isinstance(value, list | tuple) and all(_conforms(v, element) for v in value)
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        args = typing.get_args(hint) or (str, Any)
        return isinstance(value, dict) and all(
            _conforms(k, args[0]) and _conforms(v, args[1]) for k, v in value.items()
        )
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        # Enums travel as their value (the events keep it as text, equal to the member).
        return isinstance(value, str) and value in hint._value2member_map_
    if hint is bool:
        return type(value) is bool
    if hint is int:
        return type(value) is int
    if hint is str:
        return type(value) is str
    if hint is date:
        return type(value) is date
    if hint is datetime:
        return type(value) is datetime and value.tzinfo is not None
    if hint in (Decimal, UUID):
        return type(value) is hint
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if type(value) is not hint:
            return False
        declared: dict[str, Any] = _declared(typing.cast(Any, hint))
        return _mismatch({name: getattr(value, name) for name in declared}, declared) is None
    return False  # a type the stored form does not know: never trusted blindly


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint)


def originator_hex(originator_id: UUID | str) -> str:
    """A stored row's originator id in hex (backends give a UUID or its text)."""
    return originator_id.hex if isinstance(originator_id, UUID) else UUID(str(originator_id)).hex


def originator_uuid(originator_id: UUID | str) -> UUID:
    """A stored row's originator id as a UUID (backends give a UUID or its text)."""
    return originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))


__all__ = [
    "CONTRACT_TOPIC_PREFIX",
    "NotARecord",
    "Record",
    "RecordMapper",
    "canonical_from_stored",
    "originator_uuid",
    "read_record",
    "record_digest",
]
