"""The rules a contract manager expects the system to enforce, as exceptions.

Every rule has its own class with a stable, machine-readable `code`; the HTTP layer turns the
code into the problem `type`. Command methods raise these *before* any event is triggered, so a
refused command leaves the history exactly as it was.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from domain.timeline import Dependency


class DomainError(Exception):
    """A command was refused because it breaks a rule of the contract.

    `field` names the command's argument at fault where there is one (`held_on`,
    `change.baseline.value`), so a caller can point at it."""

    code = "domain-error"
    title = "The command breaks a rule of the contract"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field

    @property
    def extensions(self) -> dict[str, Any]:
        """Facts beside the detail that a program may read (none by default)."""
        return {}


class InvalidValue(DomainError):
    code = "invalid-value"
    title = "A value is not acceptable"


# Parties and consent (rule 1) ---------------------------------------------------------------


class NotAParty(DomainError):
    code = "not-a-party"
    title = "Only the commissioner and active providers act on a contract"


class CommissionerOnly(DomainError):
    code = "commissioner-only"
    title = "Only the commissioner may do this"


class ConsentNotYours(DomainError):
    code = "consent-not-yours"
    title = "Nobody can record another organisation's consent"


class AlreadyConsented(DomainError):
    code = "already-consented"
    title = "This party has already consented"


class UnknownProposal(DomainError):
    code = "unknown-proposal"
    title = "No such proposal on this contract"


class ProposalNotOpen(DomainError):
    code = "proposal-not-open"
    title = "The proposal is no longer open"


class NotProposer(DomainError):
    code = "not-proposer"
    title = "Only the proposer's party may withdraw a proposal"


class UnknownProvider(DomainError):
    code = "unknown-provider"
    title = "No such active provider on this contract"


class NotInvited(DomainError):
    code = "not-invited"
    title = "Only a provider with an open invitation can accept or decline it"


class UnknownGrant(DomainError):
    code = "unknown-grant"
    title = "No such access grant in force on this contract"


class ProviderAlreadyAdmitted(DomainError):
    code = "provider-already-admitted"
    title = "The provider is already admitted"


# Provenance (rule 2) ------------------------------------------------------------------------


class SessionRequired(DomainError):
    code = "session-required"
    title = "A substantive change must name the session it came from"


class UnknownSession(DomainError):
    code = "unknown-session"
    title = "No such dialogue session on this contract"


# Money and modification limits (rules 3 and 4) ----------------------------------------------


class CeilingExceeded(DomainError):
    code = "ceiling-exceeded"
    title = "Allocations would exceed the ceiling"


class ReallocationUnbalanced(DomainError):
    code = "reallocation-unbalanced"
    title = "A reallocation must sum to zero"


class DecisionRequired(DomainError):
    code = "decision-required"
    title = "This step needs a reference to the decision behind it"


class JustificationRequired(DomainError):
    code = "justification-required"
    title = "Past the modification limit a change needs a recorded justification"


class InvalidTerm(DomainError):
    code = "invalid-term"
    title = "The term or period is not acceptable"


# Effective dates ----------------------------------------------------------------------------


class EffectiveBeforeDependency(DomainError):
    code = "effective-before-dependency"
    title = "A fact may not take effect before a fact it depends on"

    def __init__(self, event: str, effective_on: date, dependency: Dependency) -> None:
        super().__init__(
            f"{event} would take effect on {effective_on}, before {dependency.describe()}, "
            "on which it depends; give it a later effectiveOn (or date that fact earlier)",
            field="effective_on",
        )
        self.event = event
        self.effective_on = effective_on
        self.dependency = dependency

    @property
    def extensions(self) -> dict[str, Any]:
        return {
            "effectiveOn": self.effective_on.isoformat(),
            "dependsOn": {
                "what": self.dependency.what,
                "event": self.dependency.event,
                "version": self.dependency.version,
                "effectiveOn": self.dependency.effective_on.isoformat(),
            },
        }


class BatchRefused(DomainError):
    """Some reports of a batch break a rule: none is recorded. `refusals` names each, by its
    place in the batch."""

    code = "invalid-batch"
    title = "Some rows of the batch break a rule; none was recorded"

    def __init__(self, size: int, refusals: list[tuple[int, DomainError]]) -> None:
        first_index, first = refusals[0]
        super().__init__(
            f"{len(refusals)} of {size} rows break a rule (the first, row {first_index + 1}: "
            f"{first.detail}); nothing was recorded",
            field="measurements",
        )
        self.refusals = refusals


# Goal chain (rule 5) ------------------------------------------------------------------------


class UnknownGoal(DomainError):
    code = "unknown-goal"
    title = "No such active node in the goal chain"


class GoalParentInvalid(DomainError):
    code = "goal-parent-invalid"
    title = "A node must hang under an active node of the level above"


class VisionExists(DomainError):
    code = "vision-exists"
    title = "The contract already has an active vision"


class GoalHasChildren(DomainError):
    code = "goal-has-children"
    title = "Retire or move a node's children before retiring it"


# Indicators (rule 6) ------------------------------------------------------------------------


class UnknownIndicator(DomainError):
    code = "unknown-indicator"
    title = "No such indicator on this contract"


class IndicatorRetired(DomainError):
    code = "indicator-retired"
    title = "The indicator has been retired"


class IndicatorVersionSuperseded(DomainError):
    code = "indicator-version-superseded"
    title = "A measurement binds to the indicator version in force"


class TargetNeedsBaseline(DomainError):
    code = "target-needs-baseline"
    title = "An indicator target needs a baseline"


# Lifecycle (rule 7) and append-only corrections (rule 8) ------------------------------------


class AlreadyPublic(DomainError):
    code = "already-public"
    title = "The contract is public already"


class NotPublic(DomainError):
    code = "not-public"
    title = "The contract is not public"


class NothingToErase(DomainError):
    code = "nothing-to-erase"
    title = "There is no personal data left to erase"


class ContractClosed(DomainError):
    code = "contract-closed"
    title = "After the end only evaluations, publications and corrections are recorded"


class ContractNotActive(DomainError):
    code = "contract-not-active"
    title = "This needs an active contract"


class InvalidTransition(DomainError):
    code = "invalid-transition"
    title = "The contract cannot move to that status from where it is"


class NoProviders(DomainError):
    code = "no-providers"
    title = "A contract needs at least one admitted provider to become active"


class UnknownVersion(DomainError):
    code = "unknown-version"
    title = "No such record in the contract's history"


class InvalidCorrection(DomainError):
    code = "invalid-correction"
    title = "That record or field cannot be corrected"


ALL_DOMAIN_ERRORS: tuple[type[DomainError], ...] = tuple(
    cls
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, DomainError)
)
