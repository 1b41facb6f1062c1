"""Views: the plain data use cases return (response DTOs), never the aggregate itself.

Field names are snake_case in Python and lowerCamelCase on the wire (`by_alias=True`); money is
`Decimal` (a decimal string in JSON), dates are `date`, times timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

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


class ValuedChangeData(Data):
    proposal_id: str
    effective_on: date
    value: Decimal
    cumulative: Decimal
    possibly_substantial_change: bool


class FrameworkData(Data):
    ceiling: Decimal
    period: PeriodData
    allocations: list[AllocationData]
    allocated: Decimal
    initial_value: Decimal
    #: the EU threshold that applied when the contract was opened (None: opened before it was
    #: recorded; the limit is then 10% of the initial value alone)
    threshold: Decimal | None
    change_limit: Decimal
    cumulative_change_value: Decimal
    change_limit_exceeded: bool
    #: the agreed changes that make up the cumulative change value, each valued from the change
    changes: list[ValuedChangeData]


class ParticipantData(Data):
    name: str
    org: str
    role: str
    external: bool


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


class ConsentData(Data):
    party: str
    by: ActorData
    at: datetime
    effective_on: date
    session_id: str | None
    version: int


class IndicatorVersionData(Data):
    """One version of an indicator as agreed (or its retirement), and the dialogue behind it."""

    version: int
    #: `agreed` (a new version) or `retired`
    change: str
    indicator: IndicatorData
    effective_on: date
    agreed_in_version: int
    agreed_at: datetime
    proposal_id: str
    proposed_by: ActorData
    proposed_at: datetime | None
    consents: list[ConsentData]
    session_id: str | None
    session_held_on: date | None
    reason: str
    decision_ref: str | None


class IndicatorHistoryData(Data):
    indicator_id: str
    versions: list[IndicatorVersionData]


class MeasurementData(Data):
    measurement_id: str
    indicator_id: str
    indicator_version: int
    period: PeriodData
    value: Decimal
    source: str


class MeasurementBatchData(Data):
    count: int
    measurements: list[MeasurementData]


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
    #: ids an addition creates (nodeId / indicatorId; in a package `changes[n].nodeId`), known
    #: from submission, in force once agreed
    created_ids: dict[str, str]


class PublicationData(Data):
    publication_id: str
    issued_on: date
    audience: str
    channel: str
    summary: str


class ConsultationData(Data):
    """Residents consulted: when, in what form, how many took part, and what came of it."""

    consultation_id: str
    held_on: date
    method: str
    participants_count: int
    summary: str


class EvaluationData(Data):
    evaluation_id: str
    held_on: date
    summary: str
    conclusions: str


class CorrectionData(Data):
    """A mistaken record corrected by a later event; the record shows the corrected values."""

    corrects_version: int
    #: the record corrected: its kind (session, measurement, publication, consultation,
    #: evaluation) and id
    record_kind: str
    record_id: str
    #: the corrected fields (API names) and their new values
    corrections: dict[str, str]
    reason: str
    recorded_in_version: int


class AccessGrantData(Data):
    grant_id: str
    org: str
    role: str
    until: date | None
    reason: str
    granted_on: date
    revoked_on: date | None
    #: whether the grant lets its organisation read the contract today
    in_force: bool


class ContractCore(Data):
    """What every representation of the contract shows: its standing parts."""

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
    #: outside organisations given read access by the commissioner, with revoked ones
    access_grants: list[AccessGrantData]
    possibly_substantial_change: bool
    #: disclosed by the commissioner (Woo): its public part is open data
    public: bool
    created_at: datetime
    updated_at: datetime
    head_digest: str


class ContractData(ContractCore):
    """The whole contract, every record included (the pages, the dossier, the diff)."""

    indicators: list[IndicatorData]
    measurements: list[MeasurementData]
    sessions: list[SessionData]
    proposals: list[ProposalData]
    publications: list[PublicationData]
    consultations: list[ConsultationData]
    evaluations: list[EvaluationData]
    corrections: list[CorrectionData]


class ContractCounts(Data):
    """How many records each collection that grows with the history holds; each is read a page
    at a time at `/contracts/{id}/<collection>`."""

    sessions: int
    measurements: int
    proposals: int
    publications: int
    consultations: int
    evaluations: int
    corrections: int


class IndicatorState(IndicatorData):
    #: the measurement of the latest period (of those of one period, the last recorded)
    latest_measurement: MeasurementData | None


class ContractState(ContractCore):
    """The contract as the API shows it: what is in force and what is open, with counts of the
    collections that grow with its history (paged sub-resources), so that its size does not
    grow with every session, measurement or publication recorded (issue 14)."""

    indicators: list[IndicatorState]
    #: the proposals still open (all proposals: `/contracts/{id}/proposals`)
    open_proposals: list[ProposalData]
    counts: ContractCounts


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
    MEASUREMENT_BATCH = "measurement_batch"
    STAKEHOLDER = "stakeholder"
    PUBLICATION = "publication"
    ACCESS_GRANT = "access_grant"
    CONSULTATION = "consultation"
    EVALUATION = "evaluation"
    CORRECTION = "correction"


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


class WhyData(Data):
    """The event behind a difference: who, when, and the proposal, session, reason and decision
    it stands on."""

    version: int
    event: str
    by: ActorData
    effective_on: date
    proposal_id: str | None
    session_id: str | None
    session_held_on: date | None
    reason: str | None
    decision_ref: str | None


class ChangeData(Data):
    path: str
    before: Any
    after: Any
    #: the change in words, in the language of the answer, with full texts
    summary: str
    #: the last event between the two versions that made this difference (None: none did,
    #: e.g. a count that moved)
    why: WhyData | None = None


class DiffData(Data):
    from_version: int
    to_version: int
    #: the language of the summaries: `nl` unless Accept-Language prefers `en`
    language: str = "nl"
    changes: list[ChangeData]


class VerificationData(Data):
    valid: bool
    versions_checked: int
    snapshots_checked: int = 0
    head_digest: str | None
    first_invalid_version: int | None
    reason: str | None


# Pages of the collections that grow with a contract's history (issue 14, point 1). A cursor is
# the number of records before the page: records are only ever appended, so it stays stable.


class SessionPage(Data):
    items: list[SessionData]
    next_cursor: int | None


class MeasurementPage(Data):
    items: list[MeasurementData]
    next_cursor: int | None


class ProposalPage(Data):
    items: list[ProposalData]
    next_cursor: int | None


class PublicationPage(Data):
    items: list[PublicationData]
    next_cursor: int | None


class ConsultationPage(Data):
    items: list[ConsultationData]
    next_cursor: int | None


class EvaluationPage(Data):
    items: list[EvaluationData]
    next_cursor: int | None


class CorrectionPage(Data):
    items: list[CorrectionData]
    next_cursor: int | None
