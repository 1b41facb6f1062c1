"""Request bodies of API v1: lowerCamelCase on the wire, strict, with sensible limits.

Money travels as a decimal string (`"1250000.00"`), never a JSON number, so no float ever
touches it; dates are `YYYY-MM-DD`. Responses reuse the application's DTOs (`application.views`).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator
from pydantic.alias_generators import to_camel, to_snake

from domain.goals import ChangeAction, DeliveredBy, GoalChange, GoalLevel
from domain.indicators import Baseline, Direction, IndicatorChange, Target
from domain.money import Adjustment
from domain.proposals import MAX_PACKAGE, Change, ChangePackage, ScopeRefinement, SingleChange
from domain.values import Allocation, Participant, Period, ProcedureKind

Text = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(min_length=1, max_length=10_000)]
OptionalText = Annotated[str, Field(max_length=2_000)]
Org = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
Money = Annotated[
    str,
    Field(
        pattern=r"^\d{1,13}(\.\d{1,2})?$",
        description="An amount in EUR as a decimal string",
        examples=["1250000.00"],
    ),
]
SignedMoney = Annotated[
    str,
    Field(
        pattern=r"^-?\d{1,13}(\.\d{1,2})?$",
        description="A (possibly negative) amount in EUR as a decimal string",
        examples=["-25000.00"],
    ),
]
Quantity = Annotated[
    str,
    Field(
        pattern=r"^-?\d{1,15}(\.\d{1,6})?$",
        description="A measured value as a decimal string",
        examples=["4.5"],
    ),
]


#: Control characters other than tab and line breaks have no place in any text here (and
#: PostgreSQL cannot store NUL in text at all).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: Integers stay within what every JSON reader (and RFC 8785) represents exactly.
MAX_COUNT = 2**53 - 1


class Body(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
            raise ValueError("must not contain control characters")
        return value


class EffectiveOn(Body):
    """A command's body: what it records takes effect on `effectiveOn` (default: today)."""

    effective_on: date | None = Field(
        default=None,
        description="The day what this records takes effect (default: the day it is "
        "recorded). It may lie in the past, never after today, and not before a fact it "
        "depends on (409 effective-before-dependency).",
    )


class PeriodIn(Body):
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> PeriodIn:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self

    def value(self) -> Period:
        return Period(self.start, self.end)


class FinancialFrameworkIn(Body):
    ceiling: Money
    period: PeriodIn


class ContractCreate(Body):
    reference: Annotated[str, Field(min_length=1, max_length=64, examples=["WMO-2025-017"])]
    title: Text
    assignment: LongText
    procedure: ProcedureKind = ProcedureKind.DIALOGUE
    term: PeriodIn
    financial_framework: FinancialFrameworkIn
    effective_on: date | None = Field(
        default=None, description="The day the opening takes effect (default: the term's start)"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reference": "WMO-2025-017",
                    "title": "Integrale wijkondersteuning Noord",
                    "assignment": "Inwoners van Noord krijgen dichtbij passende ondersteuning.",
                    "procedure": "dialogue",
                    "term": {"start": "2025-01-01", "end": "2028-12-31"},
                    "financialFramework": {
                        "ceiling": "1250000.00",
                        "period": {"start": "2025-01-01", "end": "2025-12-31"},
                    },
                }
            ]
        }
    )


class ProviderCreate(EffectiveOn):
    org: Org
    name: Text
    rationale: LongText


class StakeholderCreate(EffectiveOn):
    name: Text
    kind: Text
    contact: OptionalText = ""


class ParticipantIn(Body):
    name: Text
    #: a party's organisation id or a registered stakeholder's id, unless `external`
    org: Org
    role: Text
    external: Annotated[
        bool,
        Field(description="true for someone from outside the parties and stakeholders"),
    ] = False


class SessionCreate(Body):
    held_on: date
    kind: Text
    participants: Annotated[list[ParticipantIn], Field(min_length=1, max_length=200)]
    minutes_ref: Text
    summary: LongText

    def participants_value(self) -> list[Participant]:
        return [Participant(p.name, p.org, p.role, p.external) for p in self.participants]


class ScopeRefinementIn(Body):
    assignment: LongText
    effective_on: date | None = Field(
        default=None,
        description="The day the change takes effect once agreed (default: the day it is agreed)",
    )


class GoalChangeIn(Body):
    action: ChangeAction
    level: GoalLevel
    node_id: Annotated[str, Field(max_length=64)] | None = None
    parent_id: Annotated[str, Field(max_length=64)] | None = None
    text: Annotated[str, Field(max_length=2_000)] | None = None
    delivered_by: DeliveredBy | None = None
    effective_on: date | None = Field(
        default=None,
        description="The day the change takes effect once agreed (default: the day it is agreed)",
    )


class BaselineIn(Body):
    value: Quantity
    measured_on: date
    source: Text


class TargetIn(Body):
    value: Quantity
    due_on: date


class IndicatorChangeIn(Body):
    action: ChangeAction
    indicator_id: Annotated[str, Field(max_length=64)] | None = None
    name: Text | None = None
    definition: Annotated[str, Field(max_length=2_000)] | None = None
    unit: Annotated[str, Field(max_length=40)] | None = None
    direction: Direction | None = None
    baseline: BaselineIn | None = None
    target: TargetIn | None = None
    frequency: Annotated[str, Field(max_length=40)] | None = None
    data_source: Annotated[str, Field(max_length=200)] | None = None
    result_id: Annotated[str, Field(max_length=64)] | None = None
    effective_on: date | None = Field(
        default=None,
        description="The day the change takes effect once agreed (default: the day it is agreed)",
    )


class AllocationIn(Body):
    org: Org
    amount: Money


class AdjustmentIn(Body):
    allocations: Annotated[list[AllocationIn], Field(max_length=100)] | None = None
    ceiling: Money | None = None
    decision_ref: Annotated[str, Field(max_length=200)] | None = None
    term_end: date | None = None
    legal_basis: Text
    value: SignedMoney
    effective_on: date
    justification: Annotated[str, Field(max_length=10_000)] | None = None


class _ProposalBase(EffectiveOn):
    session_id: Annotated[str, Field(min_length=1, max_length=64)]
    rationale: LongText


class ScopeRefinementProposal(_ProposalBase):
    kind: Literal["scope_refinement"]
    change: ScopeRefinementIn


class GoalProposal(_ProposalBase):
    kind: Literal["goal"]
    change: GoalChangeIn


class IndicatorProposal(_ProposalBase):
    kind: Literal["indicator"]
    change: IndicatorChangeIn


class AdjustmentProposal(_ProposalBase):
    kind: Literal["adjustment"]
    change: AdjustmentIn


class ScopeRefinementItem(Body):
    kind: Literal["scope_refinement"]
    change: ScopeRefinementIn


class GoalItem(Body):
    kind: Literal["goal"]
    change: GoalChangeIn


class IndicatorItem(Body):
    kind: Literal["indicator"]
    change: IndicatorChangeIn


class AdjustmentItem(Body):
    kind: Literal["adjustment"]
    change: AdjustmentIn


PackageItem = Annotated[
    ScopeRefinementItem | GoalItem | IndicatorItem | AdjustmentItem,
    Field(discriminator="kind"),
]


class PackageProposal(_ProposalBase):
    """Several changes agreed or rejected together. A goal's `parentId` or an indicator's
    `resultId` may be `#n`: the node added by the package's n-th change (from 0)."""

    kind: Literal["package"]
    changes: Annotated[list[PackageItem], Field(min_length=1, max_length=MAX_PACKAGE)]


ProposalCreate = Annotated[
    ScopeRefinementProposal
    | GoalProposal
    | IndicatorProposal
    | AdjustmentProposal
    | PackageProposal,
    Field(discriminator="kind"),
]

Single = (
    ScopeRefinementProposal
    | GoalProposal
    | IndicatorProposal
    | AdjustmentProposal
    | ScopeRefinementItem
    | GoalItem
    | IndicatorItem
    | AdjustmentItem
)


def change_of(proposal: Single | PackageProposal) -> Change:
    """The domain change a proposal body describes."""
    if isinstance(proposal, PackageProposal):
        return ChangePackage(tuple(_single_change(item) for item in proposal.changes))
    return _single_change(proposal)


def _single_change(proposal: Single) -> SingleChange:
    change = proposal.change
    if isinstance(change, ScopeRefinementIn):
        return ScopeRefinement(assignment=change.assignment, effective_on=change.effective_on)
    if isinstance(change, GoalChangeIn):
        return GoalChange(**change.model_dump())
    if isinstance(change, IndicatorChangeIn):
        data = change.model_dump(exclude={"baseline", "target"})
        baseline = change.baseline
        target = change.target
        return IndicatorChange(
            **data,
            baseline=Baseline(Decimal(baseline.value), baseline.measured_on, baseline.source)
            if baseline
            else None,
            target=Target(Decimal(target.value), target.due_on) if target else None,
        )
    return Adjustment(
        legal_basis=change.legal_basis,
        value=Decimal(change.value),
        effective_on=change.effective_on,
        allocations=tuple(Allocation(a.org, Decimal(a.amount)) for a in change.allocations)
        if change.allocations is not None
        else None,
        ceiling=Decimal(change.ceiling) if change.ceiling is not None else None,
        decision_ref=change.decision_ref,
        term_end=change.term_end,
        justification=change.justification,
    )


class ConsentCreate(EffectiveOn):
    on_behalf_of: Org | None = Field(
        default=None, description="The party consenting; must be the caller's own organisation"
    )
    session_id: Annotated[str, Field(max_length=64)] | None = None


class ReasonBody(EffectiveOn):
    reason: LongText


class LifecycleStep(EffectiveOn):
    """Why the contract takes this step, and the decision behind it (where there is one)."""

    reason: LongText
    decision_ref: Annotated[str, Field(max_length=200)] | None = Field(
        default=None,
        description="The decision behind the step (e.g. a council or board decision number); "
        "required to complete a contract before its term's end",
    )


class ProposalClosing(EffectiveOn):
    """Why a proposal is rejected or withdrawn, and in which session (if in one)."""

    reason: LongText
    session_id: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="The dialogue session this was decided in, if any"
    )


class AcceptanceBody(EffectiveOn):
    """Accepting an invitation needs no fields; the caller's organisation accepts."""


class AccessGrantCreate(EffectiveOn):
    org: Org
    role: Annotated[str, Field(description="auditor or reader", max_length=20)]
    until: date | None = Field(default=None, description="The last day the grant holds")
    reason: LongText


class OptionalReasonBody(EffectiveOn):
    reason: Annotated[str, Field(max_length=10_000)] = ""
    decision_ref: Annotated[str, Field(max_length=200)] | None = None


class MeasurementCreate(Body):
    period: PeriodIn
    value: Quantity
    source: Text
    indicator_version: Annotated[int, Field(ge=1, le=MAX_COUNT)] | None = None


class PublicationCreate(EffectiveOn):
    audience: Text
    channel: Text
    summary: LongText


class ConsultationCreate(Body):
    """Residents consulted about the contract: when, in what form, their reach, the outcome."""

    held_on: date = Field(description="The day the residents were consulted")
    method: Text = Field(description="The form: a meeting, a survey, a panel, …")
    participants_count: Annotated[int, Field(ge=0, le=10_000_000)] = Field(
        description="How many residents took part (the reach)"
    )
    summary: LongText = Field(description="What came of it (the outcome)")


class EvaluationCreate(Body):
    held_on: date = Field(description="The day the evaluation was held")
    summary: LongText
    conclusions: Annotated[str, Field(max_length=10_000)] = ""


class CorrectionCreate(EffectiveOn):
    """A mistaken record corrected by a new event that names the version that recorded it."""

    corrects_version: Annotated[int, Field(ge=1, le=MAX_COUNT)] = Field(
        description="The version of the event that recorded the mistaken record"
    )
    corrections: Annotated[
        dict[
            Annotated[str, Field(max_length=64, pattern=r"^[a-z][A-Za-z]*$")],
            Annotated[str, Field(max_length=10_000)] | StrictInt,
        ],
        Field(min_length=1, max_length=10),
    ] = Field(
        description="The corrected fields by their API name and their right values: a "
        "session's minutesRef and summary; a measurement's value and source; a publication's "
        "audience, channel and summary; a consultation's method, summary and "
        "participantsCount; an evaluation's summary and conclusions"
    )
    reason: LongText

    def corrections_value(self) -> dict[str, str]:
        return {to_snake(name): str(value) for name, value in self.corrections.items()}
