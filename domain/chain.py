"""The hash chain: every event carries the digest of its predecessor.

The digest of an event is SHA-256 over the RFC 8785 (JSON Canonicalization Scheme) encoding of

    {"type", "contractId", "version", "recordedAt", "payload", "metadata", "priorDigest"}

where values take the form they have in storage: Decimal as its string, date and datetime in
ISO 8601, UUID as hex, value objects as objects of their fields, enums as their value. So the
same bytes come out on every backend and Python version, and a verifier can recompute a digest
from a stored record alone, without this module's classes (reading stored records is the
application's business: `application.stored_form`).

`ChainedAggregate` stamps every event with its place in the chain when it is triggered.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Self
from uuid import UUID

import rfc8785
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from domain.values import stored_fields

GENESIS_DIGEST = "0" * 64

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
    """SHA-256 (hex) of the canonical encoding; all values already in canonical form."""
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
    *, topic: str, contract_id: UUID, version: int, fields: Mapping[str, Any], prior_digest: str
) -> str:
    """The digest of an event about to be triggered, from its field values.

    `fields` must hold everything the store will hold, including what the event store adds:
    `class_version` (stored when above 1, so an upcaster cannot be switched on or off behind
    the chain's back) and, for the opening event, `originator_topic` (the aggregate's class)."""
    payload, metadata = split_fields(fields)
    return digest_of(
        topic=topic,
        contract_id=contract_id.hex,
        version=version,
        recorded_at=canonical(fields["timestamp"]),
        payload=canonical(payload),
        metadata=canonical(metadata),
        prior_digest=prior_digest,
    )


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
