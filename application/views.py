"""Views: the plain data use cases return (response DTOs), never the aggregate itself.

Field names are snake_case in Python and lowerCamelCase on the wire (`by_alias=True`); money is
`Decimal` (a decimal string in JSON), dates are `date`, times timezone-aware.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from domain.contract import Contract
from domain.goals import GoalChange
from domain.indicators import IndicatorChange, Measurement
from domain.money import Adjustment
from domain.proposals import Proposal, ScopeRefinement
from domain.records import Publication, Session, Stakeholder
from domain.values import Actor

D = TypeVar("D")


class Data(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class ActorData(Data):
    sub: str
    name: str
    org: str
    role: str

    @classmethod
    def of(cls, actor: Actor) -> ActorData:
        return cls(sub=actor.subject, name=actor.name, org=actor.org, role=actor.role)


class PeriodData(Data):
    start: date
    end: date


class OrgRef(Data):
    org: str


class ProviderData(Data):
    org: str
    name: str
    status: str
    rationale: str
    admitted_on: date


class StakeholderData(Data):
    stakeholder_id: str
    name: str
    kind: str
    contact: str


class AllocationData(Data):
    org: str
    amount: Decimal


class FrameworkData(Data):
    ceiling: Decimal
    period: PeriodData
    allocations: list[AllocationData]
    allocated: Decimal
    initial_value: Decimal
    change_limit: Decimal
    cumulative_change_value: Decimal
    change_limit_exceeded: bool


class ParticipantData(Data):
    name: str
    org: str
    role: str


class SessionData(Data):
    session_id: str
    held_on: date
    kind: str
    participants: list[ParticipantData]
    minutes_ref: str
    summary: str


class GoalData(Data):
    node_id: str
    level: str
    parent_id: str | None
    text: str
    delivered_by: str | None
    status: str


class BaselineData(Data):
    value: Decimal
    measured_on: date
    source: str


class TargetData(Data):
    value: Decimal
    due_on: date


class IndicatorData(Data):
    indicator_id: str
    version: int
    name: str
    definition: str
    unit: str
    direction: str
    baseline: BaselineData | None
    target: TargetData | None
    frequency: str
    data_source: str
    result_id: str | None
    status: str


class MeasurementData(Data):
    measurement_id: str
    indicator_id: str
    indicator_version: int
    period: PeriodData
    value: Decimal
    source: str


class ProposalData(Data):
    proposal_id: str
    kind: str
    status: str
    session_id: str
    rationale: str
    change: dict[str, Any]
    proposed_by: ActorData
    submitted_at: datetime
    consents: list[str]
    awaiting: list[str]
    closed_by: ActorData | None
    closing_reason: str | None
    #: ids an addition creates (nodeId / indicatorId), known from submission, in force once agreed
    created_ids: dict[str, str]


class PublicationData(Data):
    publication_id: str
    issued_on: date
    audience: str
    channel: str
    summary: str


class ContractData(Data):
    id: str
    reference: str
    title: str
    status: str
    version: int
    procedure: str
    assignment: str
    commissioner: OrgRef
    providers: list[ProviderData]
    stakeholders: list[StakeholderData]
    term: PeriodData
    financial_framework: FrameworkData
    goals: list[GoalData]
    indicators: list[IndicatorData]
    measurements: list[MeasurementData]
    sessions: list[SessionData]
    proposals: list[ProposalData]
    publications: list[PublicationData]
    possibly_substantial_change: bool
    created_at: datetime
    updated_at: datetime
    head_digest: str


def change_data(
    change: ScopeRefinement | GoalChange | IndicatorChange | Adjustment,
) -> dict[str, Any]:
    from domain.chain import canonical

    plain = canonical(change)
    return {to_camel(k): _camel_keys(v) for k, v in plain.items() if v is not None}


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {to_camel(k): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def proposal_data(contract: Contract, proposal: Proposal) -> ProposalData:
    change = proposal.change
    created: dict[str, str] = {}
    if isinstance(change, GoalChange) and change.action == "add" and change.node_id:
        created["nodeId"] = change.node_id
    if isinstance(change, IndicatorChange) and change.action == "add" and change.indicator_id:
        created["indicatorId"] = change.indicator_id
    awaiting = (
        sorted(contract.parties - set(proposal.consents)) if proposal.status == "open" else []
    )
    return ProposalData(
        proposal_id=proposal.proposal_id,
        kind=str(proposal.kind),
        status=str(proposal.status),
        session_id=proposal.session_id,
        rationale=proposal.rationale,
        change=change_data(change),
        proposed_by=ActorData.of(proposal.proposed_by),
        submitted_at=proposal.submitted_at,
        consents=list(proposal.consents),
        awaiting=awaiting,
        closed_by=ActorData.of(proposal.closed_by) if proposal.closed_by else None,
        closing_reason=proposal.closing_reason,
        created_ids=created,
    )


def contract_data(contract: Contract) -> ContractData:
    framework = contract.framework
    return ContractData(
        id=contract.id.hex,
        reference=contract.reference,
        title=contract.title,
        status=str(contract.status),
        version=contract.version,
        procedure=contract.procedure,
        assignment=contract.assignment,
        commissioner=OrgRef(org=contract.commissioner),
        providers=[
            ProviderData(
                org=p.org,
                name=p.name,
                status=str(p.status),
                rationale=p.rationale,
                admitted_on=p.admitted_on,
            )
            for p in contract.providers.values()
        ],
        stakeholders=[stakeholder_data(s) for s in contract.stakeholders.values()],
        term=PeriodData(start=contract.term.start, end=contract.term.end),
        financial_framework=FrameworkData(
            ceiling=framework.ceiling,
            period=PeriodData(start=framework.period.start, end=framework.period.end),
            allocations=[
                AllocationData(org=org, amount=amount)
                for org, amount in sorted(framework.allocations.items())
            ],
            allocated=framework.allocated,
            initial_value=framework.initial_value,
            change_limit=framework.change_limit,
            cumulative_change_value=framework.cumulative_change_value,
            change_limit_exceeded=framework.change_limit_exceeded,
        ),
        goals=[
            GoalData(
                node_id=n.node_id,
                level=str(n.level),
                parent_id=n.parent_id,
                text=n.text,
                delivered_by=str(n.delivered_by) if n.delivered_by else None,
                status="active" if n.active else "retired",
            )
            for n in contract.goals.values()
        ],
        indicators=[
            IndicatorData(
                indicator_id=i.indicator_id,
                version=i.version,
                name=i.name,
                definition=i.definition,
                unit=i.unit,
                direction=str(i.direction),
                baseline=BaselineData(
                    value=i.baseline.value,
                    measured_on=i.baseline.measured_on,
                    source=i.baseline.source,
                )
                if i.baseline
                else None,
                target=TargetData(value=i.target.value, due_on=i.target.due_on)
                if i.target
                else None,
                frequency=i.frequency,
                data_source=i.data_source,
                result_id=i.result_id,
                status="active" if i.active else "retired",
            )
            for i in contract.indicators.values()
        ],
        measurements=[measurement_data(m) for m in contract.measurements.values()],
        sessions=[session_data(s) for s in contract.sessions.values()],
        proposals=[proposal_data(contract, p) for p in contract.proposals.values()],
        publications=[publication_data(p) for p in contract.publications],
        possibly_substantial_change=framework.change_limit_exceeded,
        created_at=contract.created_on,
        updated_at=contract.modified_on,
        head_digest=contract.head_digest,
    )


def stakeholder_data(s: Stakeholder) -> StakeholderData:
    return StakeholderData(
        stakeholder_id=s.stakeholder_id, name=s.name, kind=s.kind, contact=s.contact
    )


def measurement_data(m: Measurement) -> MeasurementData:
    return MeasurementData(
        measurement_id=m.measurement_id,
        indicator_id=m.indicator_id,
        indicator_version=m.indicator_version,
        period=PeriodData(start=m.period.start, end=m.period.end),
        value=m.value,
        source=m.source,
    )


def session_data(s: Session) -> SessionData:
    return SessionData(
        session_id=s.session_id,
        held_on=s.held_on,
        kind=s.kind,
        participants=[ParticipantData(name=p.name, org=p.org, role=p.role) for p in s.participants],
        minutes_ref=s.minutes_ref,
        summary=s.summary,
    )


def publication_data(p: Publication) -> PublicationData:
    return PublicationData(
        publication_id=p.publication_id,
        issued_on=p.issued_on,
        audience=p.audience,
        channel=p.channel,
        summary=p.summary,
    )


@dataclass(frozen=True)
class Viewed(Generic[D]):
    """A piece of the contract as the caller should see it, and the version it was seen at."""

    version: int
    head_digest: str
    body: D


class View(StrEnum):
    """What a caller asks to see after a command: the contract, or the record the command
    created or acted on."""

    CONTRACT = "contract"
    SESSION = "session"
    PROPOSAL = "proposal"
    MEASUREMENT = "measurement"
    STAKEHOLDER = "stakeholder"
    PUBLICATION = "publication"


def render(view: View, contract: Contract, record_id: str | None) -> Viewed[Any]:
    """The view of the contract (at its loaded version) and the version it was seen at."""
    return Viewed(contract.version, contract.head_digest, _RENDER[view](contract, str(record_id)))


def _publication(contract: Contract, publication_id: str) -> PublicationData:
    return publication_data(
        next(p for p in contract.publications if p.publication_id == publication_id)
    )


_RENDER: dict[View, Callable[[Contract, str], Data]] = {
    View.CONTRACT: lambda c, _: contract_data(c),
    View.SESSION: lambda c, session_id: session_data(c.sessions[session_id]),
    View.PROPOSAL: lambda c, proposal_id: proposal_data(c, c.proposals[proposal_id]),
    View.MEASUREMENT: lambda c, m_id: measurement_data(c.measurements[m_id]),
    View.STAKEHOLDER: lambda c, s_id: stakeholder_data(c.stakeholders[s_id]),
    View.PUBLICATION: _publication,
}


class HistoryEntry(Data):
    version: int
    type: str
    recorded_at: datetime
    effective_on: date
    actor: ActorData
    session_id: str | None
    decision_ref: str | None
    reason: str
    data: dict[str, Any]
    digest: str
    prior_digest: str


class HistoryPage(Data):
    items: list[HistoryEntry]
    next_cursor: int | None


class ChangeData(Data):
    path: str
    before: Any
    after: Any
    summary: str


class DiffData(Data):
    from_version: int
    to_version: int
    changes: list[ChangeData]


class VerificationData(Data):
    valid: bool
    versions_checked: int
    snapshots_checked: int = 0
    head_digest: str | None
    first_invalid_version: int | None
    reason: str | None
