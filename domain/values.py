"""Value objects of the contract: who acts, periods, money, and the kinds of things.

Everything here is immutable and made of types that survive storage (str, int, bool, Decimal,
date, datetime and these dataclasses; enums are stored by value).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from domain.errors import InvalidTerm, InvalidValue

#: The contracts are Dutch: "the date it takes effect" defaults to the recording date there.
LOCAL_TIMEZONE = ZoneInfo("Europe/Amsterdam")
CENT = Decimal("0.01")


def local_date(moment: datetime) -> date:
    """The calendar date of a timezone-aware moment in the Netherlands."""
    return moment.astimezone(LOCAL_TIMEZONE).date()


def euros(amount: Decimal | int | str) -> Decimal:
    """An amount of money in EUR with exactly two decimal places (never a float)."""
    if isinstance(amount, float):
        raise InvalidValue("money is never a float; pass a Decimal or a string")
    try:
        value = Decimal(amount)
    except (InvalidOperation, ValueError) as error:
        raise InvalidValue(f"{amount!r} is not an amount of money") from error
    if not value.is_finite():
        raise InvalidValue(f"{amount!r} is not an amount of money")
    if value != value.quantize(CENT, rounding=ROUND_HALF_EVEN):
        raise InvalidValue(f"{amount} has more than two decimal places")
    return value.quantize(CENT)


def required_text(value: str, what: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidValue(f"{what} must not be empty")
    if "\x00" in text:
        raise InvalidValue(f"{what} must not contain NUL characters")
    return text


class Role(StrEnum):
    CONTRACT_MANAGER = "contract_manager"
    AUDITOR = "auditor"
    READER = "reader"
    #: erases personal data (AVG/GDPR) in the records the organisation holds; nothing else
    PRIVACY_OFFICER = "privacy_officer"


class ContractStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"
    COMPLETED = "completed"


class ProcedureKind(StrEnum):
    DIALOGUE = "dialogue"  # aanbesteden door dialoog
    ADMINISTRATIVE_PROCUREMENT = "administrative_procurement"  # bestuurlijk aanbesteden
    OPEN_TENDER = "open_tender"
    SUBSIDY = "subsidy"
    OTHER = "other"


class SessionKind(StrEnum):
    DIALOGUE = "dialogue"
    STEERING = "steering"
    MONITORING = "monitoring"
    EVALUATION = "evaluation"
    RESIDENTS = "residents"
    OTHER = "other"


class StakeholderKind(StrEnum):
    HEALTH_INSURER = "health_insurer"
    EMPLOYER = "employer"
    SCHOOL = "school"
    CLIENT_COUNCIL = "client_council"
    OTHER = "other"


class ProviderStatus(StrEnum):
    #: admitted by the commissioner, not yet accepted by the provider's own people
    INVITED = "invited"
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    DECLINED = "declined"


class AccessRole(StrEnum):
    """What an outside organisation may do with an access grant: read, never write."""

    AUDITOR = "auditor"
    READER = "reader"


#: Organisation ids: lowercase words joined by single hyphens, 3–64 characters, so that
#: "Buurtteam-Noord", "buurtteam-noord" and "buurtteam-noord\u200b" cannot be three parties.
ORG_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def org_id(value: str, what: str = "an organisation id") -> str:
    if not isinstance(value, str) or not 3 <= len(value) <= 64 or not ORG_ID.fullmatch(value):
        raise InvalidValue(
            f"{value!r} is not {what}: lowercase letters and digits in words joined by single "
            "hyphens, 3 to 64 characters"
        )
    return value


@dataclass(frozen=True)
class Actor:
    """The authenticated person behind an event, and the organisation they act for."""

    subject: str
    name: str
    org: str
    role: str


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidTerm(f"a period cannot end ({self.end}) before it starts ({self.start})")

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


#: Field metadata for a field added to a stored value later: it is left out of the stored form
#: (and so of the digest) while it has its default, so records without it keep their bytes.
OMITTED_AT_DEFAULT = {"omitted_at_default": True}


def stored_fields(value: Any) -> dict[str, Any]:
    """A stored value dataclass's fields as stored: added fields at their default left out."""
    return {
        f.name: getattr(value, f.name)
        for f in fields(value)
        if not (f.metadata.get("omitted_at_default") and getattr(value, f.name) == f.default)
    }


@dataclass(frozen=True)
class Participant:
    """Someone at a session: for a party or a registered stakeholder (`org` is the party's
    organisation id or the stakeholder's id), or from outside them all (`external`)."""

    name: str
    org: str
    role: str
    external: bool = field(default=False, metadata=OMITTED_AT_DEFAULT)


@dataclass(frozen=True)
class Allocation:
    org: str
    amount: Decimal


VALUE_TYPES: tuple[type, ...] = (Actor, Period, Participant, Allocation)
