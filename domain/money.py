"""The financial framework: a ceiling for a period, allocations per provider, and the running
total of agreed changes against the initial contract value (the modification limit of
Directive 2014/24/EU art. 72 and Aanbestedingswet 2.163b).

The value of a change is computed from the change itself, never taken from what the proposer
types: the initial value is the ceiling over the whole term as opened (a ceiling set for one year
counts for every year of the term, pro rata for part years: the estimated value of
Aanbestedingswet art. 2.17); a ceiling change counts for the rest of the term from its effective
date; a term extension counts pro rata at the ceiling in force; allocations within an unchanged
ceiling move no value. A declared value counts when it is higher (a change the parties priced),
never to lower the computed one. Past the limit — the lower of 10% of the initial value and the
EU threshold for social and other specific services — a change needs a recorded justification
and is flagged as possibly substantial."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from domain.errors import (
    CeilingExceeded,
    DecisionRequired,
    InvalidTerm,
    InvalidValue,
    JustificationRequired,
    ReallocationUnbalanced,
    UnknownProvider,
)
from domain.values import Allocation, Period, euros

#: Share of the initial value that agreed changes may add up to without a new tender.
CHANGE_LIMIT_SHARE = Decimal("0.10")
#: The EU threshold for social and other specific services (Directive 2014/24/EU art. 4(d)) in
#: 2026; the application passes the one that applies when a contract is opened.
SOCIAL_SERVICES_THRESHOLD = Decimal("750000.00")
ZERO = Decimal("0.00")
CENT = Decimal("0.01")


def months_between(start: date, end_exclusive: date) -> Decimal:
    """Calendar months from `start` up to `end_exclusive`, a part month pro rata by its days."""
    if end_exclusive <= start:
        return Decimal(0)
    whole = (end_exclusive.year - start.year) * 12 + end_exclusive.month - start.month
    while add_months(start, whole) > end_exclusive:
        whole -= 1
    anchor, following = add_months(start, whole), add_months(start, whole + 1)
    if following == anchor:  # at the end of the calendar
        return Decimal(whole)
    return whole + Decimal((end_exclusive - anchor).days) / Decimal((following - anchor).days)


def add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    if year > date.max.year:
        return date.max
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _after(day: date) -> date:
    """The day after (an end date 9999-12-31 counts as ending a day early)."""
    return day + timedelta(days=1) if day < date.max else day


def _pro_rata(amount: Decimal, months: Decimal, budget_months: Decimal) -> Decimal:
    return (amount * months / budget_months).quantize(CENT)


def initial_value(ceiling: Decimal, budget_period: Period, term: Period) -> Decimal:
    """The estimated value over the whole term: the ceiling for every budget period it spans
    (pro rata for a part period), and at least the ceiling itself."""
    budget_months = months_between(budget_period.start, _after(budget_period.end))
    term_months = months_between(term.start, _after(term.end))
    return max(ceiling, _pro_rata(ceiling, term_months, budget_months))


@dataclass(frozen=True)
class ValuedChange:
    """One agreed change as it counts towards the modification limit."""

    proposal_id: str
    effective_on: date
    value: Decimal
    cumulative: Decimal
    possibly_substantial: bool


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
    #: the EU threshold that applied at the opening (None for contracts opened before it was
    #: recorded: their limit is 10% of the initial value alone)
    threshold: Decimal | None = None
    #: the agreed changes that make up the cumulative change value, in the order agreed
    changes: list[ValuedChange] = field(default_factory=list)

    @property
    def allocated(self) -> Decimal:
        return sum(self.allocations.values(), ZERO)

    @property
    def change_limit(self) -> Decimal:
        share = euros((self.initial_value * CHANGE_LIMIT_SHARE).quantize(CENT))
        return share if self.threshold is None else min(share, self.threshold)

    @property
    def budget_months(self) -> Decimal:
        return months_between(self.period.start, _after(self.period.end))

    def allocations_after(self, adjustment: Adjustment) -> dict[str, Decimal]:
        merged = dict(self.allocations)
        for allocation in adjustment.allocations or ():
            merged[allocation.org] = allocation.amount
        return {org: amount for org, amount in merged.items() if amount != ZERO}


def value_of_adjustment(
    framework: FinancialFramework, term: Period, adjustment: Adjustment
) -> Decimal:
    """What an adjustment changes in the contract's value (see the module's docstring)."""
    budget_months = framework.budget_months
    computed = ZERO
    if adjustment.ceiling is not None and adjustment.ceiling != framework.ceiling:
        start = max(adjustment.effective_on, term.start)
        remaining = months_between(start, _after(term.end))
        # The whole ceiling of the budget period the change falls in moves, even near the end.
        periods = max(remaining, budget_months)
        computed += _pro_rata(abs(adjustment.ceiling - framework.ceiling), periods, budget_months)
    if adjustment.term_end is not None and adjustment.term_end != term.end:
        ceiling = adjustment.ceiling if adjustment.ceiling is not None else framework.ceiling
        first, last = sorted((term.end, adjustment.term_end))
        computed += _pro_rata(ceiling, months_between(_after(first), _after(last)), budget_months)
    return max(computed, abs(adjustment.value))


def check_adjustment(
    framework: FinancialFramework, term: Period, providers: set[str], adjustment: Adjustment
) -> None:
    """Raise the money rule an adjustment would break (rule 3 and rule 4)."""
    if not adjustment.legal_basis.strip():
        raise InvalidValue("an adjustment needs a legal basis", field="change.legal_basis")
    euros(adjustment.value)
    if adjustment.ceiling is not None:
        euros(adjustment.ceiling)
    for allocation in adjustment.allocations or ():
        euros(allocation.amount)
    if not adjustment.allocations and adjustment.ceiling is None and not adjustment.term_end:
        raise InvalidValue(
            "an adjustment changes allocations, the ceiling or the term", field="change"
        )
    if adjustment.ceiling is not None:
        if not (adjustment.decision_ref or "").strip():
            raise DecisionRequired("name the budget decision that changes the ceiling")
        if adjustment.ceiling <= ZERO:
            raise InvalidValue("the ceiling must be positive", field="change.ceiling")
    if adjustment.term_end is not None and adjustment.term_end <= term.end:
        raise InvalidTerm(f"a term extension must end after the current end {term.end}")
    seen: set[str] = set()
    for allocation in adjustment.allocations or ():
        if allocation.org not in providers:
            raise UnknownProvider(f"{allocation.org!r} is not an active provider")
        if allocation.org in seen:
            raise InvalidValue(f"{allocation.org!r} is allocated twice", field="change.allocations")
        if allocation.amount < ZERO:
            raise InvalidValue("an allocation cannot be negative", field="change.allocations")
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
    value = value_of_adjustment(framework, term, adjustment)
    cumulative = framework.cumulative_change_value + value
    if cumulative > framework.change_limit and not (adjustment.justification or "").strip():
        raise JustificationRequired(
            f"this change is worth {value}; agreed changes would total {cumulative}, past the "
            f"modification limit of {framework.change_limit} (the lower of 10% of the initial "
            "value and the EU threshold): record a justification"
        )


def apply_adjustment(
    framework: FinancialFramework,
    term: Period,
    adjustment: Adjustment,
    *,
    value: Decimal,
    proposal_id: str,
) -> Period:
    """Apply an agreed adjustment worth `value` (as computed when it was agreed); returns the
    (possibly extended) term."""
    framework.allocations = framework.allocations_after(adjustment)
    if adjustment.ceiling is not None:
        framework.ceiling = adjustment.ceiling
    framework.cumulative_change_value += value
    substantial = framework.cumulative_change_value > framework.change_limit
    if substantial:
        framework.change_limit_exceeded = True
    if value != ZERO:
        framework.changes.append(
            ValuedChange(
                proposal_id=proposal_id,
                effective_on=adjustment.effective_on,
                value=value,
                cumulative=framework.cumulative_change_value,
                possibly_substantial=substantial,
            )
        )
    if adjustment.term_end is not None:
        return Period(term.start, adjustment.term_end)
    return term
