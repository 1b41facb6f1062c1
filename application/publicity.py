"""What of a contract is public once its commissioner disclosed it (Woo active disclosure;
DOMAIN.md rule 12): decided here, in one function, for the open-data API (OCDS) and the
residents' web page alike.

Public are the assignment, the goals, the indicators and their progress, the money, the agreed
changes, the publications, and the residents' consultations: when, in what form, how many took
part and what came of it (the outcome a contract manager records for residents, as a
publication's summary is; a correction replaces it). Never public: people's names (actors,
session participants, stakeholders' contacts), minutes and sessions, proposals still open or
rejected or withdrawn, free-text rationales (they can name people), access grants and
evaluations' own words.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from application.errors import ContractNotFound
from application.rendering import change_data, contract_data
from application.views import (
    Data,
    FrameworkData,
    GoalData,
    IndicatorData,
    MeasurementData,
    PeriodData,
    PublicationData,
)
from domain.contract import Contract
from domain.proposals import ProposalStatus
from domain.values import ProviderStatus

#: Providers shown in public: the ones that became a party (withdrawn ones stay on the record).
PUBLIC_PROVIDER_STATUSES = (ProviderStatus.ACTIVE, ProviderStatus.WITHDRAWN)


class PublicProvider(Data):
    org: str
    name: str
    status: str


class AgreedChange(Data):
    proposal_id: str
    kind: str
    change: dict[str, Any]
    #: the contract version in which the change took effect
    agreed_in_version: int


class PublicConsultation(Data):
    """Residents consulted: when, in what form, how many took part, and what came of it."""

    consultation_id: str
    held_on: date
    method: str
    participants_count: int
    outcome: str


class PublicContract(Data):
    id: str
    reference: str
    title: str
    status: str
    version: int
    procedure: str
    assignment: str
    commissioner: str
    providers: list[PublicProvider]
    term: PeriodData
    financial_framework: FrameworkData
    goals: list[GoalData]
    indicators: list[IndicatorData]
    measurements: list[MeasurementData]
    agreed_changes: list[AgreedChange]
    publications: list[PublicationData]
    consultations: list[PublicConsultation]
    created_at: datetime
    updated_at: datetime


def public_view(contract: Contract) -> PublicContract:
    """The public part of the contract as it stands (whether or not it is disclosed: callers
    check `contract.public` through `disclosed`)."""
    full = contract_data(contract)
    return PublicContract(
        id=full.id,
        reference=full.reference,
        title=full.title,
        status=full.status,
        version=full.version,
        procedure=full.procedure,
        assignment=full.assignment,
        commissioner=full.commissioner.org,
        providers=[
            PublicProvider(org=p.org, name=p.name, status=str(p.status))
            for p in contract.providers.values()
            if p.status in PUBLIC_PROVIDER_STATUSES
        ],
        term=full.term,
        financial_framework=full.financial_framework,
        goals=full.goals,
        indicators=full.indicators,
        measurements=full.measurements,
        agreed_changes=[
            AgreedChange(
                proposal_id=p.proposal_id,
                kind=str(p.kind),
                change=change_data(p.change),
                agreed_in_version=p.closed_in_version or 0,
            )
            for p in contract.proposals.values()
            if p.status == ProposalStatus.AGREED
        ],
        publications=full.publications,
        consultations=[
            PublicConsultation(
                consultation_id=c.consultation_id,
                held_on=c.held_on,
                method=c.method,
                participants_count=c.participants_count,
                outcome=c.summary,
            )
            for c in full.consultations
        ],
        created_at=full.created_at,
        updated_at=full.updated_at,
    )


def disclosed(contract: Contract) -> Contract:
    """The contract if its commissioner made it public; otherwise, to the public, it does not
    exist (the same answer as for a missing id)."""
    if not contract.public:
        raise ContractNotFound(f"no public contract {contract.id.hex}")
    return contract
