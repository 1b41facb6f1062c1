"""Proposals are the dialogue: a party puts a change forward and the others consent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.goals import GoalChange
from domain.indicators import IndicatorChange
from domain.money import Adjustment
from domain.values import Actor


class ProposalKind(StrEnum):
    SCOPE_REFINEMENT = "scope_refinement"
    GOAL = "goal"
    INDICATOR = "indicator"
    ADJUSTMENT = "adjustment"


class ProposalStatus(StrEnum):
    OPEN = "open"
    AGREED = "agreed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class ScopeRefinement:
    """The sharper assignment text; the history keeps the text it replaces."""

    assignment: str


Change = ScopeRefinement | GoalChange | IndicatorChange | Adjustment

KIND_OF_CHANGE: dict[type, ProposalKind] = {
    ScopeRefinement: ProposalKind.SCOPE_REFINEMENT,
    GoalChange: ProposalKind.GOAL,
    IndicatorChange: ProposalKind.INDICATOR,
    Adjustment: ProposalKind.ADJUSTMENT,
}


@dataclass
class Proposal:
    proposal_id: str
    kind: ProposalKind
    change: Change
    rationale: str
    session_id: str
    proposed_by: Actor
    submitted_at: datetime
    status: ProposalStatus = ProposalStatus.OPEN
    consents: list[str] = field(default_factory=list)
    closed_by: Actor | None = None
    closing_reason: str | None = None
    closed_in_version: int | None = None
