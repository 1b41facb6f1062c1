"""Aggregates the application keeps beside contracts, saved atomically with a contract's events.

* `ReferenceClaim`: a contract reference is unique per commissioner. The claim's id is derived
  from (commissioner, reference), so two contracts claiming the same reference collide on the
  event store's unique (id, version) key and only one save succeeds.
* `CommandReceipt`: a command carrying an idempotency key leaves a receipt whose id is derived
  from (principal, key); it holds a fingerprint of the command and its result, so a repeat
  returns the original result and stores nothing new — across restarts and racing repeats.

Stored by import path: never rename or move these classes.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

_NAMESPACE = uuid5(NAMESPACE_URL, "https://dialoog.example/ids")


class ReferenceClaim(Aggregate):
    class Claimed(Aggregate.Created):
        commissioner: str
        reference: str
        contract_id: str

    def __init__(self, commissioner: str, reference: str, contract_id: str) -> None:
        self.commissioner = commissioner
        self.reference = reference
        self.contract_id = contract_id

    @staticmethod
    def create_id(commissioner: str, reference: str) -> UUID:
        return claim_id(commissioner, reference)


def claim_id(commissioner: str, reference: str) -> UUID:
    return uuid5(_NAMESPACE, f"reference\n{commissioner}\n{reference.casefold()}")


class CommandReceipt(Aggregate):
    class Issued(Aggregate.Created):
        subject: str
        key: str
        fingerprint: str
        result: dict[str, Any]

    def __init__(self, subject: str, key: str, fingerprint: str, result: dict[str, Any]) -> None:
        self.subject = subject
        self.key = key
        self.fingerprint = fingerprint
        self.result = result

    @staticmethod
    def create_id(subject: str, key: str) -> UUID:
        return receipt_id(subject, key)


def receipt_id(subject: str, key: str) -> UUID:
    return uuid5(_NAMESPACE, f"receipt\n{subject}\n{key}")
