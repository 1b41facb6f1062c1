"""Money (rules 3 and 4): allocations within the ceiling, balanced reallocations, ceiling changes
with a decision, term extensions, and the 10% cumulative modification limit."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from domain import errors
from domain.events import ConsentGiven, ProposalAgreed, ProposalSubmitted
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
    _submit(scene, adjustment(ceiling=Decimal("800000.00"), decision_ref="d"))


# term ---------------------------------------------------------------------------------------


def test_a_term_extension_moves_the_end_of_the_term():
    scene = two_providers()
    agreed("extend", adjustment(term_end=date(2030, 12, 31)))(scene)
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


# the 10% modification limit -----------------------------------------------------------------


def test_changes_up_to_ten_percent_need_no_justification():
    scene = two_providers()
    agreed("up-to-limit", adjustment(str(CHANGE_LIMIT), term_end=date(2029, 12, 31)))(scene)
    assert scene.c.framework.cumulative_change_value == CHANGE_LIMIT
    assert scene.c.framework.change_limit_exceeded is False


def test_a_change_past_ten_percent_needs_a_justification():
    scene = given(
        *active_contract("zorg-a"),
        agreed("first", adjustment("60000.00", term_end=date(2029, 12, 31))),
    )
    second = adjustment("-40000.01", term_end=date(2030, 12, 31))
    error = assert_rejected(scene.c, errors.ChangeLimitExceeded, lambda: _submit(scene, second))
    assert error.code == "change-limit-exceeded"
    blank = adjustment("-40000.01", term_end=date(2030, 12, 31), justification="  ")
    assert_rejected(scene.c, errors.ChangeLimitExceeded, lambda: _submit(scene, blank))


def test_a_justified_change_past_ten_percent_is_agreed_and_flagged():
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
    would pass 10% without a justification and is refused."""
    scene = given(
        *active_contract("zorg-a"),
        proposed("first", adjustment("60000.00", term_end=date(2029, 12, 31))),
        proposed("second", adjustment("60000.00", term_end=date(2030, 12, 31))),
        lambda s: s.c.give_consent(actor=PROVIDER_A, proposal_id=s["first"]),
    )
    assert_rejected(
        scene.c,
        errors.ChangeLimitExceeded,
        lambda: scene.c.give_consent(actor=PROVIDER_A, proposal_id=scene["second"]),
    )
    assert scene.c.proposals[scene["second"]].status == "open"
    assert scene.c.framework.change_limit_exceeded is False
