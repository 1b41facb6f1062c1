"""What the contract keeps about its parties, sessions and transparency."""

from __future__ import annotations

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
