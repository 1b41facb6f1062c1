"""Proposals are the dialogue: a party puts a change forward and the others consent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from domain.goals import GoalChange
from domain.indicators import IndicatorChange
from domain.money import Adjustment
from domain.values import OMITTED_AT_DEFAULT, Actor


class ProposalKind(StrEnum):
    SCOPE_REFINEMENT = "scope_refinement"
    GOAL = "goal"
    INDICATOR = "indicator"
    ADJUSTMENT = "adjustment"
    PACKAGE = "package"


class ProposalStatus(StrEnum):
    OPEN = "open"
    AGREED = "agreed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class ScopeRefinement:
    """The sharper assignment text; the history keeps the text it replaces."""

    assignment: str
    #: the day the change takes effect once agreed (None: the day it is agreed)
    effective_on: date | None = field(default=None, metadata=OMITTED_AT_DEFAULT)


SingleChange = ScopeRefinement | GoalChange | IndicatorChange | Adjustment

#: The most changes one package may carry.
MAX_PACKAGE = 20


@dataclass(frozen=True)
class ChangePackage:
    """Several changes negotiated together — a goal branch with its indicators, a
    reallocation with a target change — agreed or rejected as one, taking effect on one day.

    Within a package, a goal's `parent_id` or an indicator's `result_id` may be `#n`: the node
    the package's n-th change (counting from 0) adds; it is replaced by that node's id when the
    package is proposed."""

    changes: tuple[SingleChange, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(self.changes))  # a list, when read back

    @property
    def effective_on(self) -> date | None:
        """The day the package takes effect: the one its changes name (None: when agreed)."""
        return next((c.effective_on for c in self.changes if c.effective_on is not None), None)

    @property
    def decision_ref(self) -> str | None:
        return next((c.decision_ref for c in self.changes if isinstance(c, Adjustment)), None)

    @property
    def adjustment(self) -> Adjustment | None:
        """The package's change to the money or term, if it has one (at most one)."""
        return next((c for c in self.changes if isinstance(c, Adjustment)), None)


Change = SingleChange | ChangePackage

KIND_OF_CHANGE: dict[type, ProposalKind] = {
    ScopeRefinement: ProposalKind.SCOPE_REFINEMENT,
    GoalChange: ProposalKind.GOAL,
    IndicatorChange: ProposalKind.INDICATOR,
    Adjustment: ProposalKind.ADJUSTMENT,
    ChangePackage: ProposalKind.PACKAGE,
}


def adjustment_in(change: Change) -> Adjustment | None:
    """The change to the money or term a change is or carries, if any."""
    if isinstance(change, Adjustment):
        return change
    if isinstance(change, ChangePackage):
        return change.adjustment
    return None


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
