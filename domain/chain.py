"""The hash chain: every event carries the digest of its predecessor.

An event is recorded as one document, its **record** (form 2, docs/EVENTS.md):

    {"form": 2, "type", "contractId", "version", "recordedAt", "priorDigest",
     "payload", "metadata"}

encoded as RFC 8785 (JSON Canonicalization Scheme) bytes. Values that JSON has no type for
carry their type with them, `{"_type_": name, "_data_": value}`: Decimal (`decimal_str`, its
string), date (`date_iso`), datetime (`datetime_iso`), UUID (`uuid_hex`) and value objects (their
class name, the object of their fields); enums are their value. The event's digest is SHA-256
over exactly those bytes, which hold the prior digest: what is decoded is what is hashed, type
information included, and a verifier needs nothing but the bytes.

Form 1 (events recorded before form 2) hashed a canonical document without type information
(`digest_of`), stored beside the fields; its records stay valid under that rule.

`ChainedAggregate` stamps every event with its place in the chain when it is triggered.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol, Self
from uuid import UUID

import orjson
import rfc8785
from eventsourcing.domain import Aggregate, OriginatorVersionError
from eventsourcing.utils import get_topic

from domain.values import stored_fields

GENESIS_DIGEST = "0" * 64
#: The record form events are written in now.
RECORD_FORM = 2
#: The keys of a form-2 record, exactly.
RECORD_KEYS = frozenset(
    {"form", "type", "contractId", "version", "recordedAt", "priorDigest", "payload", "metadata"}
)


class ChainBroken(OriginatorVersionError):
    """An event that does not name its predecessor's digest as its prior digest, met when the
    history is replayed: a record was altered, removed or inserted behind the chain's back."""


#: Event fields that describe who and why rather than what.
METADATA_FIELDS = ("actor", "effective_on", "session_id", "decision_ref", "reason")
#: Event fields that are not part of what the digest covers (or are covered elsewhere).
UNHASHED_FIELDS = ("timestamp", "digest", "prior_digest")


def canonical(value: Any) -> Any:
    """The storage form of a domain value, as plain JSON data."""
    if value is None or (isinstance(value, bool | int | str) and not isinstance(value, Enum)):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return value.hex
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: canonical(v) for name, v in stored_fields(value).items()}
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    raise TypeError(f"{type(value).__name__} has no canonical form (floats are not allowed)")


def typed(value: Any) -> Any:
    """The stored form of a domain value in a record: plain JSON data in which every value JSON
    has no type for carries its type (see the module's docstring)."""
    if value is None or (isinstance(value, bool | int | str) and not isinstance(value, Enum)):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return {"_type_": "decimal_str", "_data_": str(value)}
    if isinstance(value, datetime):
        return {"_type_": "datetime_iso", "_data_": value.isoformat()}
    if isinstance(value, date):
        return {"_type_": "date_iso", "_data_": value.isoformat()}
    if isinstance(value, UUID):
        return {"_type_": "uuid_hex", "_data_": value.hex}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {name: typed(v) for name, v in stored_fields(value).items()}
        return {"_type_": type(value).__name__, "_data_": fields}
    if isinstance(value, Mapping):
        return {str(k): typed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [typed(v) for v in value]
    raise TypeError(f"{type(value).__name__} has no stored form (floats are not allowed)")


#: The integers RFC 8785 writes exactly (IEEE 754 doubles): ±(2^53 − 1).
_SAFE_INTEGER = 2**53 - 1


def _orjson_is_jcs(value: Any) -> bool:
    """Does orjson with sorted keys write exactly the RFC 8785 bytes of `value`? It does for
    strings, booleans, null and integers within ±(2^53 − 1) when every object key sorts the same
    by code point as by UTF-16 code unit (no key holds a character above U+FFFF)."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -_SAFE_INTEGER <= value <= _SAFE_INTEGER
    if isinstance(value, dict):
        return all(
            type(k) is str and (k.isascii() or max(k) <= "\uffff") and _orjson_is_jcs(v)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return all(_orjson_is_jcs(v) for v in value)
    return False  # floats and anything else: the reference encoder decides (or refuses)


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of plain JSON data: orjson where its output is RFC 8785 (the fast path),
    else the `rfc8785` reference encoder, which also refuses what RFC 8785 cannot encode."""
    if _orjson_is_jcs(value):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return rfc8785.dumps(value)


# Personal data ------------------------------------------------------------------------------
#
# Texts that can name people (DOMAIN: participants, actors' names, free text about sessions,
# consultations and evaluations) are recorded sealed: the record holds what a `PersonalTexts`
# makes of each (its stored form, a ciphertext under a key that can be destroyed), and the
# digest covers that. The domain says which texts are personal and whose; how they are sealed is
# the recorder's business.


class PersonalTexts(Protocol):
    """Seals a personal text into its stored form. The same text at the same place must seal to
    the same stored form (the record is made twice: when the event is triggered, for its digest,
    and when it is stored)."""

    def seal(
        self, text: str, *, contract_id: str, version: int, place: str, owner: str | None
    ) -> Any:
        """`place`: where in the record (e.g. `payload.participants.0.name`); `owner`: the
        person's subject for texts that are a person's own (an actor's name), None for texts of
        a record (sealed per record and field)."""
        ...


_sealer: ContextVar[PersonalTexts | None] = ContextVar("personal_texts", default=None)


@contextlib.contextmanager
def sealing(sealer: PersonalTexts) -> Iterator[None]:
    """Events triggered inside are recorded with their personal texts sealed by `sealer`."""
    token = _sealer.set(sealer)
    try:
        yield
    finally:
        _sealer.reset(token)


def personal_places(event_class: type[Any]) -> tuple[str, ...]:
    """Where an event class holds personal texts, as paths into its payload (`[]`: every item of
    a list); the actor's name in the metadata comes on top."""
    return tuple(getattr(event_class, "personal_texts", ()))


def _seal_document(
    document: dict[str, Any], places: tuple[str, ...], sealer: PersonalTexts
) -> None:
    contract_id, version = document["contractId"], document["version"]
    actor = document["metadata"].get("actor")
    if isinstance(actor, dict) and isinstance(actor.get("_data_"), dict):
        data = actor["_data_"]
        if isinstance(data.get("name"), str):
            data["name"] = sealer.seal(
                data["name"],
                contract_id=contract_id,
                version=version,
                place="metadata.actor.name",
                owner=data.get("subject"),
            )
    for place in places:
        _seal_at(document["payload"], place.split("."), "payload", contract_id, version, sealer)


def _seal_at(
    value: Any, parts: list[str], where: str, contract_id: str, version: int, sealer: PersonalTexts
) -> Any:
    if isinstance(value, dict) and value.keys() == {"_type_", "_data_"}:
        value["_data_"] = _seal_at(value["_data_"], parts, where, contract_id, version, sealer)
        return value
    if not parts:
        if isinstance(value, str):
            return sealer.seal(
                value, contract_id=contract_id, version=version, place=where, owner=None
            )
        return value
    head, rest = parts[0], parts[1:]
    name, every = (head[:-2], True) if head.endswith("[]") else (head, False)
    if not isinstance(value, dict) or name not in value:
        return value
    if every:
        items = value[name]
        if isinstance(items, list):
            value[name] = [
                _seal_at(item, rest, f"{where}.{name}.{i}", contract_id, version, sealer)
                for i, item in enumerate(items)
            ]
        return value
    value[name] = _seal_at(value[name], rest, f"{where}.{name}", contract_id, version, sealer)
    return value


def record_of(
    *,
    topic: str,
    contract_id: str,
    version: int,
    fields: Mapping[str, Any],
    personal: tuple[str, ...] = (),
    sealer: PersonalTexts | None = None,
) -> bytes:
    """The form-2 record of an event (its stored bytes) from its field values: `fields` holds the
    timestamp, the prior digest and everything else the store keeps (see
    `digest_of_event_fields`). Personal texts (`personal`, and the actor's name) are sealed by
    `sealer`, or by the one events are being triggered with (`sealing`); without either they
    are recorded as they are."""
    payload, metadata = split_fields(fields)
    document = {
        "form": RECORD_FORM,
        "type": topic,
        "contractId": contract_id,
        "version": version,
        "recordedAt": canonical(fields["timestamp"]),
        "priorDigest": fields["prior_digest"],
        "payload": typed(payload),
        "metadata": typed(metadata),
    }
    sealer = sealer or _sealer.get()
    if sealer is not None:
        _seal_document(document, personal, sealer)
    return canonical_json(document)


def digest_of_record(record: bytes) -> str:
    """A form-2 event's digest: SHA-256 (hex) of its record's bytes."""
    return hashlib.sha256(record).hexdigest()


def split_fields(fields: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    payload = {
        k: v for k, v in fields.items() if k not in METADATA_FIELDS and k not in UNHASHED_FIELDS
    }
    metadata = {k: fields.get(k) for k in METADATA_FIELDS}
    return payload, metadata


def digest_of(
    *,
    topic: str,
    contract_id: str,
    version: int,
    recorded_at: str,
    payload: Any,
    metadata: Any,
    prior_digest: str,
) -> str:
    """The form-1 digest: SHA-256 (hex) of the canonical encoding of the document below, all
    values already in canonical form (no type information). Events recorded before form 2 keep
    verifying under this rule."""
    document = {
        "type": topic,
        "contractId": contract_id,
        "version": version,
        "recordedAt": recorded_at,
        "payload": payload,
        "metadata": metadata,
        "priorDigest": prior_digest,
    }
    return hashlib.sha256(rfc8785.dumps(document)).hexdigest()


def digest_of_event_fields(
    *,
    topic: str,
    contract_id: UUID,
    version: int,
    fields: Mapping[str, Any],
    prior_digest: str,
    personal: tuple[str, ...] = (),
) -> str:
    """The digest of an event about to be triggered, from its field values: SHA-256 of its
    form-2 record.

    `fields` must hold everything the store will hold, including what the event store adds:
    `class_version` (stored when above 1, so an upcaster cannot be switched on or off behind
    the chain's back) and, for the opening event, `originator_topic` (the aggregate's class)."""
    record = record_of(
        topic=topic,
        contract_id=contract_id.hex,
        version=version,
        fields={**fields, "prior_digest": prior_digest},
        personal=personal,
    )
    return digest_of_record(record)


def _digest_of_triggered(
    event_class: type[Any], originator_id: UUID, version: int, fields: dict[str, Any], prior: str
) -> str:
    """The digest of an event about to be triggered; adds what the event store will add to its
    fields: the class version, when above 1."""
    class_version = getattr(event_class, "class_version", 1)
    extras = {"class_version": class_version} if class_version > 1 else {}
    return digest_of_event_fields(
        topic=get_topic(event_class),
        contract_id=originator_id,
        version=version,
        fields={**fields, **extras},
        prior_digest=prior,
        personal=personal_places(event_class),
    )


class ChainedAggregate(Aggregate):
    """An aggregate whose events form a hash chain.

    Every event is stamped, when it is triggered, with the digest of its predecessor
    (`prior_digest`) and its own (`digest`); applying an event must set `head_digest` to its
    digest. Topics are the library's own (`get_topic`), so a digest names exactly the classes
    the event store records."""

    #: The digest of the last event applied; the genesis digest before the first. Not annotated
    #: on purpose: the library turns an aggregate class with annotations into a dataclass.
    head_digest = GENESIS_DIGEST

    @classmethod
    def _create_chained(cls, event_class: type[Any], *, id: UUID, **fields: Any) -> Self:
        """Create the aggregate with its first event, which follows the genesis digest. `fields`
        must hold the event's timestamp; the digest also covers the aggregate's class, which
        the event store records with the first event."""
        digest = _digest_of_triggered(
            event_class,
            id,
            cls.INITIAL_VERSION,
            {**fields, "originator_topic": get_topic(cls)},
            GENESIS_DIGEST,
        )
        return cls._create(event_class, id=id, prior_digest=GENESIS_DIGEST, digest=digest, **fields)

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        """Stamp the event with its recorded time (unless given) and its place in the chain."""
        fields = dict(kwargs)
        if fields.get("timestamp") is None:
            fields["timestamp"] = event_class.create_timestamp()
        fields["prior_digest"] = self.head_digest
        fields["digest"] = _digest_of_triggered(
            event_class, self.id, self.version + 1, fields, self.head_digest
        )
        super().trigger_event(event_class, **fields)
