"""The hash chain: every event carries the digest of its predecessor.

The digest of an event is SHA-256 over the RFC 8785 (JSON Canonicalization Scheme) encoding of

    {"type", "contractId", "version", "recordedAt", "payload", "metadata", "priorDigest"}

where values take the form they have in storage: Decimal as its string, date and datetime in
ISO 8601, UUID as hex, value objects as objects of their fields, enums as their value. So the
same bytes come out on every backend and Python version, and a verifier can recompute a digest
from a stored record alone, without this module's classes (see `canonical_from_stored`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import rfc8785

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


def canonical_from_stored(value: Any) -> Any:
    """The same plain JSON data, read from a stored record's JSON (transcoding wrappers removed)."""
    if isinstance(value, dict):
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            return canonical_from_stored(value["_data_"])
        return {k: canonical_from_stored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical_from_stored(v) for v in value]
    return value


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
