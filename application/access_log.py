"""The access log of personal data (*Logboek dataverwerkingen*, BIO 8.15): who read or wrote
which contract, when, with what outcome, under which trace.

An entry names a person only by the token's subject (a stable id, never a name), the
organisation and the roles; a contract only by its id; the operation by the route's operation
id. No payload, no token, no free text. Entries are appended and never changed; the stores
(infrastructure/access_log.py) refuse UPDATE and DELETE.

Who may read it: an auditor of an organisation sees the entries made by its own people and the
entries about contracts it commissions."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from application.errors import InvalidQuery, NotPermitted
from domain.values import Role

MAX_PAGE = 500


@dataclass(frozen=True)
class AccessEntry:
    """One read or write of a contract (or of the contract list, `contract_id` None)."""

    at: datetime  # UTC, timezone-aware
    subject: str
    organisation: str
    roles: str  # the caller's roles, sorted, comma-separated
    contract_id: str | None
    operation: str
    status: int
    trace_id: str
    id: int = 0  # assigned by the store; 0 until stored

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("an access entry's time must be timezone-aware")


@dataclass(frozen=True)
class AccessQuery:
    """Entries an organisation's auditor may see, after a cursor, optionally of one contract."""

    organisation: str
    commissioned: frozenset[str]  # ids of the contracts the organisation commissions
    contract_id: str | None = None
    after: int = 0
    limit: int = 100


class AccessLogStore(Protocol):
    """Where entries are kept: beside the events, append-only."""

    def append(self, entries: Sequence[AccessEntry]) -> None:
        """Store the entries in one transaction, in order."""

    def entries(self, query: AccessQuery) -> list[AccessEntry]:
        """Entries by `query.organisation`'s people or about `query.commissioned` contracts,
        with id > `query.after`, ordered by id, at most `query.limit`."""

    def close(self) -> None: ...


def auditor_query(
    organisation: str,
    roles: Collection[str],
    commissioned: Collection[str],
    *,
    contract_id: str | None,
    after: int,
    limit: int,
) -> AccessQuery:
    """The query an auditor of `organisation` may run; NotPermitted for anyone else."""
    if Role.AUDITOR not in roles:
        raise NotPermitted("only an auditor may read the access log")
    if after < 0 or not 1 <= limit <= MAX_PAGE:
        raise InvalidQuery(f"after must be ≥ 0 and limit between 1 and {MAX_PAGE}")
    return AccessQuery(
        organisation=organisation,
        commissioned=frozenset(commissioned),
        contract_id=contract_id,
        after=after,
        limit=limit,
    )
