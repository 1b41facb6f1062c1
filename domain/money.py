"""The financial framework: a ceiling for a period, allocations per provider, and the running
total of agreed changes against the initial contract value (the 10% modification limit of
Directive 2014/24/EU art. 72 and Aanbestedingswet 2.163a–g)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from domain.errors import (
    CeilingExceeded,
    ChangeLimitExceeded,
    DecisionRequired,
    InvalidTerm,
    InvalidValue,
    ReallocationUnbalanced,
    UnknownProvider,
)
from domain.values import Allocation, Period, euros

#: Share of the initial value that agreed changes may add up to without a new tender.
CHANGE_LIMIT_SHARE = Decimal("0.10")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Adjustment:
    """A proposed change to money or term, with its legal basis and monetary value."""

    legal_basis: str
    value: Decimal
    effective_on: date
    allocations: tuple[Allocation, ...] | None = None
    ceiling: Decimal | None = None
    decision_ref: str | None = None
    term_end: date | None = None
    justification: str | None = None


@dataclass
class FinancialFramework:
    ceiling: Decimal
    period: Period
    initial_value: Decimal
    allocations: dict[str, Decimal] = field(default_factory=dict)
    cumulative_change_value: Decimal = ZERO
    change_limit_exceeded: bool = False

    @property
    def allocated(self) -> Decimal:
        return sum(self.allocations.values(), ZERO)

    @property
    def change_limit(self) -> Decimal:
        return euros((self.initial_value * CHANGE_LIMIT_SHARE).quantize(Decimal("0.01")))

    def allocations_after(self, adjustment: Adjustment) -> dict[str, Decimal]:
        merged = dict(self.allocations)
        for allocation in adjustment.allocations or ():
            merged[allocation.org] = allocation.amount
        return {org: amount for org, amount in merged.items() if amount != ZERO}


def check_adjustment(
    framework: FinancialFramework, term: Period, providers: set[str], adjustment: Adjustment
) -> None:
    """Raise the money rule an adjustment would break (rule 3 and rule 4)."""
    if not adjustment.legal_basis.strip():
        raise InvalidValue("an adjustment needs a legal basis")
    euros(adjustment.value)
    if adjustment.ceiling is not None:
        euros(adjustment.ceiling)
    for allocation in adjustment.allocations or ():
        euros(allocation.amount)
    if not adjustment.allocations and adjustment.ceiling is None and not adjustment.term_end:
        raise InvalidValue("an adjustment changes allocations, the ceiling or the term")
    if adjustment.ceiling is not None:
        if not (adjustment.decision_ref or "").strip():
            raise DecisionRequired("name the budget decision that changes the ceiling")
        if adjustment.ceiling <= ZERO:
            raise InvalidValue("the ceiling must be positive")
    if adjustment.term_end is not None and adjustment.term_end <= term.end:
        raise InvalidTerm(f"a term extension must end after the current end {term.end}")
    seen: set[str] = set()
    for allocation in adjustment.allocations or ():
        if allocation.org not in providers:
            raise UnknownProvider(f"{allocation.org!r} is not an active provider")
        if allocation.org in seen:
            raise InvalidValue(f"{allocation.org!r} is allocated twice")
        if allocation.amount < ZERO:
            raise InvalidValue("an allocation cannot be negative")
        seen.add(allocation.org)
    ceiling = adjustment.ceiling if adjustment.ceiling is not None else framework.ceiling
    after = sum(framework.allocations_after(adjustment).values(), ZERO)
    if after > ceiling:
        raise CeilingExceeded(f"allocations would total {after}, over the ceiling of {ceiling}")
    deltas = [
        allocation.amount - framework.allocations.get(allocation.org, ZERO)
        for allocation in adjustment.allocations or ()
    ]
    moves_money = any(d < ZERO for d in deltas) and any(d > ZERO for d in deltas)
    if moves_money and sum(deltas, ZERO) != ZERO:
        raise ReallocationUnbalanced(
            f"moving money between providers must sum to zero, these amounts change the "
            f"total allocated by {sum(deltas, ZERO)}"
        )
    cumulative = framework.cumulative_change_value + abs(adjustment.value)
    if cumulative > framework.change_limit and not (adjustment.justification or "").strip():
        raise ChangeLimitExceeded(
            f"agreed changes would total {cumulative}, past 10% of the initial value "
            f"({framework.change_limit}); record a justification"
        )


def apply_adjustment(framework: FinancialFramework, term: Period, adjustment: Adjustment) -> Period:
    """Apply an agreed adjustment; returns the (possibly extended) term."""
    framework.allocations = framework.allocations_after(adjustment)
    if adjustment.ceiling is not None:
        framework.ceiling = adjustment.ceiling
    framework.cumulative_change_value += abs(adjustment.value)
    if framework.cumulative_change_value > framework.change_limit:
        framework.change_limit_exceeded = True
    if adjustment.term_end is not None:
        return Period(term.start, adjustment.term_end)
    return term
