"""Money (rules 3 and 4): allocations within the ceiling, balanced reallocations, ceiling changes
with a decision, term extensions, and the 10% cumulative modification limit."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given as given_hypothesis
from hypothesis import strategies as st

from domain import errors
from domain.events import ConsentGiven, ContractOpened, ProposalAgreed, ProposalSubmitted
from domain.money import FinancialFramework, add_months, months_between
from domain.values import Period
from tests.support.builders import (
    CEILING,
    CHANGE_LIMIT,
    COMMISSIONER,
    PROVIDER_A,
    PROVIDER_B,
    TERM,
    active_contract,
    adjustment,
    agreed,
    allocated,
    allocations,
    assert_rejected,
    given,
    opened,
    proposed,
    then_events,
    withdrew,
)


def _submit(scene, change, by=COMMISSIONER):
    return scene.c.submit_proposal(
        actor=by, session_id=scene["s1"], change=change, rationale="money work"
    )


def two_providers():
    return given(*active_contract("zorg-a", "welzijn-b"))


# allocations ------------------------------------------------------------------------------


def test_agreed_allocations_take_effect_with_their_value_and_effective_date():
    scene = two_providers()
    change = adjustment("0.00", allocations=allocations(zorg_a="600000.00", welzijn_b="400000.00"))

    proposal_id = _submit(scene, change)
    (submitted,) = then_events(scene.c, ProposalSubmitted)
    assert submitted.kind == "adjustment"
    assert scene.c.framework.allocations == {}
    scene.c.give_consent(actor=PROVIDER_A, proposal_id=proposal_id)
    scene.c.give_consent(actor=PROVIDER_B, proposal_id=proposal_id)

    _, _, agreement = then_events(scene.c, ConsentGiven, ConsentGiven, ProposalAgreed)
    assert agreement.change == change
    assert agreement.change_value == Decimal("0.00")
    assert agreement.effective_on == date(2025, 7, 1)
    framework = scene.c.framework
    assert framework.allocations == {
        "zorg-a": Decimal("600000.00"),
        "welzijn-b": Decimal("400000.00"),
    }
    assert framework.allocated == CEILING
    assert framework.cumulative_change_value == Decimal("0.00")


def test_allocations_over_the_ceiling_are_refused():
    scene = two_providers()
    change = adjustment(allocations=allocations(zorg_a="600000.00", welzijn_b="400000.01"))
    error = assert_rejected(scene.c, errors.CeilingExceeded, lambda: _submit(scene, change))
    assert error.code == "ceiling-exceeded"


def test_a_raise_for_one_provider_counts_with_the_allocations_in_force():
    scene = given(*active_contract("zorg-a", "welzijn-b"), allocated(zorg_a="700000.00"))
    change = adjustment(allocations=allocations(welzijn_b="300000.01"))
    assert_rejected(scene.c, errors.CeilingExceeded, lambda: _submit(scene, change))
    _submit(scene, adjustment(allocations=allocations(welzijn_b="300000.00")))


def test_a_balanced_reallocation_moves_money_between_providers():
    scene = given(
        *active_contract("zorg-a", "welzijn-b"),
        allocated(zorg_a="500000.00", welzijn_b="300000.00"),
    )
    change = adjustment(
        "100000.00", allocations=allocations(zorg_a="400000.00", welzijn_b="400000.00")
    )
    agreed("move", change, by=PROVIDER_B)(scene)
    assert scene.c.framework.allocations == {
        "zorg-a": Decimal("400000.00"),
        "welzijn-b": Decimal("400000.00"),
    }
    assert scene.c.framework.cumulative_change_value == Decimal("100000.00")


def test_an_unbalanced_reallocation_is_refused():
    scene = given(
        *active_contract("zorg-a", "welzijn-b"),
        allocated(zorg_a="500000.00", welzijn_b="300000.00"),
    )
    change = adjustment(allocations=allocations(zorg_a="400000.00", welzijn_b="450000.00"))
    error = assert_rejected(scene.c, errors.ReallocationUnbalanced, lambda: _submit(scene, change))
    assert error.code == "reallocation-unbalanced"


def test_a_zero_allocation_removes_the_provider_from_the_allocations():
    scene = given(*active_contract("zorg-a", "welzijn-b"), allocated(zorg_a="500000.00"))
    agreed("cut", adjustment(allocations=allocations(zorg_a="0.00")))(scene)
    assert scene.c.framework.allocations == {}


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (adjustment(allocations=allocations(buurtwerk_c="1.00")), errors.UnknownProvider),
        (adjustment(allocations=allocations(gemeente_utrecht="1.00")), errors.UnknownProvider),
        (adjustment(allocations=allocations(zorg_a="-1.00")), errors.InvalidValue),
        (adjustment(allocations=allocations(zorg_a="1.00") * 2), errors.InvalidValue),
        (adjustment(legal_basis=" ", term_end=date(2030, 1, 1)), errors.InvalidValue),
        (adjustment(), errors.InvalidValue),
    ],
    ids=["not-a-provider", "commissioner", "negative", "twice", "no-legal-basis", "no-change"],
)
def test_invalid_adjustments_are_refused(change, error):
    scene = two_providers()
    assert_rejected(scene.c, error, lambda: _submit(scene, change))


def test_an_allocation_for_a_provider_that_withdrew_in_the_meantime_is_not_agreed():
    scene = given(
        *active_contract("zorg-a", "welzijn-b"),
        proposed("p", adjustment(allocations=allocations(welzijn_b="10.00"))),
        withdrew(PROVIDER_B),
    )
    assert_rejected(
        scene.c,
        errors.UnknownProvider,
        lambda: scene.c.give_consent(actor=PROVIDER_A, proposal_id=scene["p"]),
    )


@pytest.mark.parametrize(
    "change",
    [
        dataclasses.replace(adjustment(term_end=date(2030, 1, 1)), value=0.5),
        adjustment("0.001", term_end=date(2030, 1, 1)),
        adjustment("NaN", term_end=date(2030, 1, 1)),
        adjustment(allocations=allocations(zorg_a="1.005")),
        adjustment(allocations=allocations(zorg_a="sNaN")),
        adjustment(ceiling=Decimal("2000000.001"), decision_ref="RB-1"),
    ],
    ids=[
        "float-value",
        "sub-cent-value",
        "nan-value",
        "sub-cent-allocation",
        "nan-allocation",
        "sub-cent-ceiling",
    ],
)
def test_adjustment_amounts_are_money_in_whole_cents(change):
    """BUG (domain/money.py check_adjustment): the amounts of an adjustment are not passed
    through `euros()`, so sub-cent amounts are accepted and NaN/float amounts escape as
    decimal.InvalidOperation / TypeError instead of InvalidValue."""
    scene = two_providers()
    assert_rejected(scene.c, errors.InvalidValue, lambda: _submit(scene, change))


# ceiling ------------------------------------------------------------------------------------


def test_a_ceiling_change_names_its_budget_decision():
    scene = two_providers()
    change = adjustment(
        "50000.00", ceiling=Decimal("1050000.00"), decision_ref="Raadsbesluit 2025-33"
    )

    proposal_id = _submit(scene, change)
    (submitted,) = then_events(scene.c, ProposalSubmitted)
    assert submitted.decision_ref == "Raadsbesluit 2025-33"
    scene.c.give_consent(actor=PROVIDER_A, proposal_id=proposal_id)
    scene.c.give_consent(actor=PROVIDER_B, proposal_id=proposal_id)

    *_, agreement = then_events(scene.c, ConsentGiven, ConsentGiven, ProposalAgreed)
    assert agreement.decision_ref == "Raadsbesluit 2025-33"
    assert agreement.change_value == Decimal("50000.00")
    assert scene.c.framework.ceiling == Decimal("1050000.00")
    assert scene.c.framework.initial_value == CEILING
    assert scene.c.framework.cumulative_change_value == Decimal("50000.00")


@pytest.mark.parametrize("decision_ref", [None, "", "  "])
def test_a_ceiling_change_without_a_decision_is_refused(decision_ref):
    scene = two_providers()
    change = adjustment(ceiling=Decimal("1100000.00"), decision_ref=decision_ref)
    error = assert_rejected(scene.c, errors.DecisionRequired, lambda: _submit(scene, change))
    assert error.code == "decision-required"


def test_a_ceiling_is_positive_and_never_below_the_allocations():
    scene = given(*active_contract("zorg-a"), allocated(zorg_a="800000.00"))
    zero = adjustment(ceiling=Decimal("0.00"), decision_ref="d")
    assert_rejected(scene.c, errors.InvalidValue, lambda: _submit(scene, zero))
    below = adjustment(ceiling=Decimal("799999.99"), decision_ref="d")
    assert_rejected(scene.c, errors.CeilingExceeded, lambda: _submit(scene, below))
    lowered = adjustment(ceiling=Decimal("800000.00"), decision_ref="d", justification="j")
    _submit(scene, lowered)


# term ---------------------------------------------------------------------------------------


def test_a_term_extension_moves_the_end_of_the_term():
    scene = two_providers()
    agreed("extend", adjustment(term_end=date(2030, 12, 31), justification="art. 72"))(scene)
    *_, agreement = then_events(
        scene.c, ProposalSubmitted, ConsentGiven, ConsentGiven, ProposalAgreed
    )
    assert agreement.change.term_end == date(2030, 12, 31)
    assert scene.c.term == Period(TERM.start, date(2030, 12, 31))


@pytest.mark.parametrize("term_end", [TERM.end, date(2026, 1, 1)])
def test_a_term_extension_must_end_after_the_current_end(term_end):
    scene = two_providers()
    error = assert_rejected(
        scene.c, errors.InvalidTerm, lambda: _submit(scene, adjustment(term_end=term_end))
    )
    assert error.code == "invalid-term"


# the modification limit: the value of a change is computed from the change ---------------


def test_the_initial_value_is_the_ceiling_over_the_whole_term():
    """A ceiling for the whole term is the initial value; a yearly ceiling counts for every
    year of the term, pro rata for a part year (Aanbestedingswet art. 2.17)."""
    scene = given(opened())
    assert scene.c.framework.initial_value == CEILING
    yearly = Period(date(2025, 1, 1), date(2025, 12, 31))
    scene = given(opened(budget_period=yearly))
    assert scene.c.framework.initial_value == Decimal("4000000.00")
    part = Period(date(2025, 1, 1), date(2027, 6, 30))
    scene = given(opened(budget_period=yearly, term=part))
    assert scene.c.framework.initial_value == Decimal("2500000.00")


def test_the_limit_is_the_lower_of_ten_percent_and_the_eu_threshold():
    assert given(opened()).c.framework.change_limit == CHANGE_LIMIT
    big = given(opened(ceiling=Decimal("10000000.00"))).c.framework
    assert big.change_limit == Decimal("750000.00")  # not 1,000,000
    assert given(opened(threshold=Decimal("50000.00"))).c.framework.change_limit == Decimal(
        "50000.00"
    )


def test_a_ceiling_raise_declared_as_worth_nothing_still_counts_in_full():
    """The issue's bypass: 1,000,000 → 99,999,999 with value 0.00."""
    scene = given(*active_contract("zorg-a"))
    raise_ = adjustment("0.00", ceiling=Decimal("99999999.00"), decision_ref="RB 2026-7")
    error = assert_rejected(scene.c, errors.JustificationRequired, lambda: _submit(scene, raise_))
    assert error.code == "justification-required"
    justified = dataclasses.replace(raise_, justification="art. 72(1)(c): unforeseeable demand")
    agreed("raise", justified)(scene)
    framework = scene.c.framework
    assert framework.cumulative_change_value >= Decimal("98999999.00")
    assert framework.change_limit_exceeded is True
    (change,) = framework.changes
    assert change.proposal_id == scene["raise"]
    assert change.value == framework.cumulative_change_value
    assert change.possibly_substantial is True


def test_a_term_extension_counts_pro_rata_at_the_ceiling_in_force():
    """The ceiling covers 48 months: four more months are worth 4/48 of it."""
    scene = given(*active_contract("zorg-a"))
    agreed("longer", adjustment("0.00", term_end=date(2029, 4, 30)))(scene)
    assert scene.c.framework.cumulative_change_value == Decimal("83333.33")
    assert scene.c.framework.change_limit_exceeded is False
    far = adjustment("0.00", term_end=date(9999, 12, 31))
    assert_rejected(scene.c, errors.JustificationRequired, lambda: _submit(scene, far))


def test_a_ceiling_change_counts_for_the_rest_of_the_term_and_at_least_one_period():
    yearly = Period(date(2025, 1, 1), date(2025, 12, 31))
    scene = given(opened(budget_period=yearly), *active_contract("zorg-a")[1:])
    # From 2027-01-01 two of the four yearly ceilings remain: a raise of 10,000 counts twice.
    change = adjustment(
        "0.00",
        ceiling=Decimal("1010000.00"),
        decision_ref="RB-1",
        effective_on=date(2027, 1, 1),
    )
    agreed("raise", change)(scene)
    assert scene.c.framework.cumulative_change_value == Decimal("20000.00")
    # A lowering in the last month still moves that year's ceiling in full.
    late = adjustment(
        "0.00", ceiling=Decimal("1000000.00"), decision_ref="RB-2", effective_on=date(2028, 12, 1)
    )
    agreed("lower", late)(scene)
    assert scene.c.framework.cumulative_change_value == Decimal("30000.00")


def test_allocations_within_an_unchanged_ceiling_move_no_value():
    scene = two_providers()
    allocated(zorg_a="600000.00", welzijn_b="400000.00")(scene)
    assert scene.c.framework.cumulative_change_value == Decimal("0.00")
    assert scene.c.framework.changes == []


def test_a_declared_value_counts_when_it_is_higher_than_the_computed_one():
    """A change the parties priced themselves (here a reallocation they value at 60,000)."""
    scene = two_providers()
    allocated("priced", "60000.00", zorg_a="600000.00")(scene)
    assert scene.c.framework.cumulative_change_value == Decimal("60000.00")
    # computed 83,333.33 > the declared 1.00; together past the limit, so justified
    extension = adjustment("1.00", term_end=date(2029, 4, 30), justification="art. 72")
    agreed("longer", extension)(scene)
    assert scene.c.framework.cumulative_change_value == Decimal("143333.33")
    assert [c.value for c in scene.c.framework.changes] == [
        Decimal("60000.00"),
        Decimal("83333.33"),
    ]


def test_a_change_past_the_limit_needs_a_justification():
    scene = given(*active_contract("zorg-a"), allocated("first", "60000.00", zorg_a="1000.00"))
    second = adjustment("-40000.01", allocations=allocations(zorg_a="2000.00"))
    error = assert_rejected(scene.c, errors.JustificationRequired, lambda: _submit(scene, second))
    assert error.code == "justification-required"
    blank = dataclasses.replace(second, justification="  ")
    assert_rejected(scene.c, errors.JustificationRequired, lambda: _submit(scene, blank))


def test_a_justified_change_past_the_limit_is_agreed_and_flagged():
    scene = given(*active_contract("zorg-a"))
    change = adjustment(
        "150000.00",
        ceiling=Decimal("1150000.00"),
        decision_ref="Raadsbesluit 2026-02",
        justification="Unforeseeable rise in demand (art. 72(1)(c))",
    )
    agreed("big", change)(scene)
    framework = scene.c.framework
    assert framework.cumulative_change_value == Decimal("150000.00")
    assert framework.change_limit_exceeded is True
    assert framework.change_limit == CHANGE_LIMIT  # against the initial value, not the new one


def test_the_limit_is_rechecked_when_the_last_consent_arrives():
    """Two changes of 60,000 are each fine alone; once one is agreed, the other's last consent
    would pass the limit without a justification and is refused."""
    scene = given(
        *active_contract("zorg-a"),
        proposed("first", adjustment("60000.00", allocations=allocations(zorg_a="1000.00"))),
        proposed("second", adjustment("60000.00", allocations=allocations(zorg_a="2000.00"))),
        lambda s: s.c.give_consent(actor=PROVIDER_A, proposal_id=s["first"]),
    )
    assert_rejected(
        scene.c,
        errors.JustificationRequired,
        lambda: scene.c.give_consent(actor=PROVIDER_A, proposal_id=scene["second"]),
    )
    assert scene.c.proposals[scene["second"]].status == "open"
    assert scene.c.framework.change_limit_exceeded is False


def test_a_contract_opened_before_the_initial_value_was_recorded_keeps_its_limit():
    """ContractOpened version 1 counted the ceiling as the initial value and knew no
    threshold: its upcaster says exactly that, so stored histories keep their meaning."""
    state = {"ceiling": Decimal("10000000.00")}
    ContractOpened.upcast_v1_v2(state)
    assert state == {
        "ceiling": Decimal("10000000.00"),
        "initial_value": Decimal("10000000.00"),
        "threshold": None,
    }
    framework = FinancialFramework(
        ceiling=Decimal("10000000.00"),
        period=TERM,
        initial_value=state["initial_value"],
        threshold=state["threshold"],
    )
    assert framework.change_limit == Decimal("1000000.00")


@given_hypothesis(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 28)),
    st.integers(0, 600),
)
def test_whole_months_are_counted_exactly(start, months):
    start = start.replace(day=min(start.day, 28))
    end = add_months(start, months)
    assert months_between(start, end) == months
    assert months_between(start, end + timedelta(days=1)) > months
