"""What the contract keeps about its parties, sessions and transparency."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from domain.values import Participant, ProviderStatus


@dataclass
class Provider:
    org: str
    name: str
    rationale: str
    admitted_on: date
    status: ProviderStatus = ProviderStatus.ACTIVE


@dataclass
class AccessGrant:
    """Read access for an outside organisation (a rekenkamer, an accountant), given by the
    commissioner, limited in time and revocable."""

    grant_id: str
    org: str
    role: str
    until: date | None
    reason: str
    granted_on: date
    revoked_on: date | None = None

    def holds_on(self, day: date) -> bool:
        return self.revoked_on is None and (self.until is None or day <= self.until)


def access_on(grants: Iterable[AccessGrant], org: str, day: date) -> str | None:
    """The role an outside organisation reads a contract in on `day` under these grants, if
    any holds."""
    for grant in grants:
        if grant.org == org and grant.holds_on(day):
            return grant.role
    return None


@dataclass(frozen=True)
class Stakeholder:
    stakeholder_id: str
    name: str
    kind: str
    contact: str = ""


@dataclass
class Session:
    session_id: str
    held_on: date
    kind: str
    participants: tuple[Participant, ...]
    minutes_ref: str
    summary: str


@dataclass(frozen=True)
class Publication:
    publication_id: str
    issued_on: date
    audience: str
    channel: str
    summary: str


@dataclass(frozen=True)
class ResidentsConsultation:
    consultation_id: str
    held_on: date
    method: str
    summary: str
    participants_count: int


@dataclass(frozen=True)
class Evaluation:
    evaluation_id: str
    held_on: date
    summary: str
    conclusions: str


@dataclass(frozen=True)
class Correction:
    corrects_version: int
    corrections: dict[str, str]
    reason: str
    recorded_in_version: int
