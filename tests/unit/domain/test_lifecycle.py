"""Lifecycle (rule 7): draft → active ⇄ suspended → terminated | completed; after the end only
evaluations, publications and corrections."""

from __future__ import annotations

from datetime import date

import pytest

from domain import errors
from domain.events import (
    ContractActivated,
    ContractCompleted,
    ContractResumed,
    ContractSuspended,
    ContractTerminated,
    EvaluationRecorded,
    PublicationIssued,
    RecordCorrected,
)
from domain.proposals import ScopeRefinement
from domain.values import ContractStatus
from tests.support.builders import (
    COMMISSIONER,
    OUTSIDER,
    PROVIDER_A,
    activated,
    active_contract,
    admitted,
    assert_rejected,
    completed,
    given,
    opened,
    proposed,
    session_held,
    suspended,
    terminated,
    then_events,
)


def test_activate_starts_delivery_and_dialogue():
    scene = given(opened(), admitted("zorg-a"))

    scene.c.activate(actor=COMMISSIONER, reason="kick-off", effective_on=date(2025, 1, 6))

    (event,) = then_events(scene.c, ContractActivated)
    assert (event.reason, event.effective_on, event.actor) == (
        "kick-off",
        date(2025, 1, 6),
        COMMISSIONER,
    )
    assert scene.c.status == ContractStatus.ACTIVE


def test_activate_needs_a_provider():
    scene = given(opened())
    error = assert_rejected(
        scene.c, errors.NoProviders, lambda: scene.c.activate(actor=COMMISSIONER)
    )
    assert error.code == "no-providers"


def test_activate_needs_an_active_provider():
    scene = given(opened(), admitted("zorg-a"))
    scene.c.withdraw_provider(actor=PROVIDER_A, org="zorg-a", reason="r")
    assert_rejected(scene.c, errors.NoProviders, lambda: scene.c.activate(actor=COMMISSIONER))


def test_suspend_records_reason_and_decision():
    scene = given(*active_contract())

    scene.c.suspend(actor=COMMISSIONER, reason="integrity inquiry", decision_ref="B&W-2025-9")

    (event,) = then_events(scene.c, ContractSuspended)
    assert (event.reason, event.decision_ref) == ("integrity inquiry", "B&W-2025-9")
    assert scene.c.status == ContractStatus.SUSPENDED


def test_resume_returns_to_active():
    scene = given(*active_contract(), suspended())

    scene.c.resume(actor=COMMISSIONER, reason="inquiry closed")

    (event,) = then_events(scene.c, ContractResumed)
    assert event.reason == "inquiry closed"
    assert scene.c.status == ContractStatus.ACTIVE


@pytest.mark.parametrize(
    "before",
    [
        [opened()],
        [opened(), admitted("zorg-a"), activated()],
        [opened(), admitted("zorg-a"), activated(), suspended()],
    ],
    ids=["draft", "active", "suspended"],
)
def test_terminate_from_any_open_status_records_the_ground(before):
    scene = given(*before)

    scene.c.terminate(actor=COMMISSIONER, reason="ground: non-performance", decision_ref="B&W-7")

    (event,) = then_events(scene.c, ContractTerminated)
    assert (event.reason, event.decision_ref) == ("ground: non-performance", "B&W-7")
    assert scene.c.status == ContractStatus.TERMINATED


def test_complete_ends_an_active_contract():
    scene = given(*active_contract())

    scene.c.complete(actor=COMMISSIONER, reason="delivered early", decision_ref="B&W-9")

    (event,) = then_events(scene.c, ContractCompleted)
    assert (event.reason, event.decision_ref) == ("delivered early", "B&W-9")
    assert scene.c.status == ContractStatus.COMPLETED


@pytest.mark.parametrize(
    ("before", "command"),
    [
        ([opened(), admitted("zorg-a"), activated()], "activate"),
        ([opened(), admitted("zorg-a")], "suspend"),
        ([opened(), admitted("zorg-a")], "resume"),
        ([opened(), admitted("zorg-a"), activated()], "resume"),
        ([opened(), admitted("zorg-a"), activated(), suspended()], "suspend"),
        ([opened(), admitted("zorg-a"), activated(), suspended()], "activate"),
        ([opened(), admitted("zorg-a")], "complete"),
        ([opened(), admitted("zorg-a"), activated(), suspended()], "complete"),
    ],
)
def test_transitions_that_the_lifecycle_does_not_have_are_refused(before, command):
    scene = given(*before)
    error = assert_rejected(
        scene.c,
        errors.InvalidTransition,
        lambda: getattr(scene.c, command)(actor=COMMISSIONER, reason="r"),
    )
    assert error.code == "invalid-transition"


@pytest.mark.parametrize("command", ["activate", "suspend", "resume", "terminate", "complete"])
def test_only_the_commissioner_moves_the_lifecycle(command):
    scene = given(*active_contract())
    assert_rejected(
        scene.c,
        errors.CommissionerOnly,
        lambda: getattr(scene.c, command)(actor=PROVIDER_A, reason="r"),
    )


@pytest.mark.parametrize("command", ["suspend", "resume", "terminate", "complete"])
def test_lifecycle_reasons_are_required(command):
    scene = given(*active_contract(), *([suspended()] if command == "resume" else []))
    assert_rejected(
        scene.c,
        errors.InvalidValue,
        lambda: getattr(scene.c, command)(actor=COMMISSIONER, reason=" "),
    )


# after the end --------------------------------------------------------------------------


def _closed(end):
    return given(*active_contract(), proposed("p", ScopeRefinement("x")), end())


COMMANDS_REFUSED_AFTER_THE_END = {
    "admit_provider": lambda s: s.c.admit_provider(
        actor=COMMISSIONER, org="welzijn-b", name="B", rationale="r"
    ),
    "withdraw_provider": lambda s: s.c.withdraw_provider(
        actor=PROVIDER_A, org="zorg-a", reason="r"
    ),
    "register_stakeholder": lambda s: s.c.register_stakeholder(
        actor=COMMISSIONER, name="n", kind="school"
    ),
    "hold_session": lambda s: session_held("s2")(s),
    "submit_proposal": lambda s: proposed("p2", ScopeRefinement("y"))(s),
    "give_consent": lambda s: s.c.give_consent(actor=PROVIDER_A, proposal_id=s["p"]),
    "reject_proposal": lambda s: s.c.reject_proposal(
        actor=PROVIDER_A, proposal_id=s["p"], reason="r"
    ),
    "withdraw_proposal": lambda s: s.c.withdraw_proposal(
        actor=COMMISSIONER, proposal_id=s["p"], reason="r"
    ),
    "consult_residents": lambda s: s.c.consult_residents(
        actor=COMMISSIONER, held_on=date(2029, 1, 1), method="m", summary="s", participants_count=1
    ),
    "activate": lambda s: s.c.activate(actor=COMMISSIONER),
    "suspend": lambda s: s.c.suspend(actor=COMMISSIONER, reason="r"),
    "resume": lambda s: s.c.resume(actor=COMMISSIONER, reason="r"),
    "terminate": lambda s: s.c.terminate(actor=COMMISSIONER, reason="r"),
    "complete": lambda s: s.c.complete(actor=COMMISSIONER, reason="r", decision_ref="d"),
}


@pytest.mark.parametrize("end", [terminated, completed], ids=["terminated", "completed"])
@pytest.mark.parametrize("command", sorted(COMMANDS_REFUSED_AFTER_THE_END))
def test_after_the_end_nothing_but_evaluations_publications_and_corrections(end, command):
    scene = _closed(end)
    error = assert_rejected(
        scene.c, errors.ContractClosed, lambda: COMMANDS_REFUSED_AFTER_THE_END[command](scene)
    )
    assert error.code == "contract-closed"


@pytest.mark.parametrize("end", [terminated, completed], ids=["terminated", "completed"])
def test_after_the_end_evaluations_publications_and_corrections_are_recorded(end):
    scene = _closed(end)

    scene.c.record_evaluation(
        actor=PROVIDER_A, held_on=date(2029, 2, 1), summary="Final evaluation", conclusions="ok"
    )
    scene.c.issue_publication(actor=COMMISSIONER, audience="council", channel="raad", summary="s")
    scene.c.correct(
        actor=COMMISSIONER, corrects_version=5, corrections={"summary": "fixed"}, reason="typo"
    )

    then_events(scene.c, EvaluationRecorded, PublicationIssued, RecordCorrected)


# record_evaluation ------------------------------------------------------------------------


def test_a_party_records_an_evaluation():
    scene = given(*active_contract())

    evaluation_id = scene.c.record_evaluation(
        actor=COMMISSIONER,
        held_on=date(2026, 1, 20),
        summary="Mid-term evaluation",
        conclusions="  On track, sharpen indicator 2  ",
    )

    (event,) = then_events(scene.c, EvaluationRecorded)
    assert event.evaluation_id == evaluation_id
    assert event.effective_on == date(2026, 1, 20)
    assert event.conclusions == "On track, sharpen indicator 2"
    (evaluation,) = scene.c.evaluations
    assert evaluation.summary == "Mid-term evaluation"


def test_an_evaluation_needs_a_party_and_a_summary():
    scene = given(*active_contract())
    assert_rejected(
        scene.c,
        errors.NotAParty,
        lambda: scene.c.record_evaluation(
            actor=OUTSIDER, held_on=date(2026, 1, 1), summary="s", conclusions=""
        ),
    )
    assert_rejected(
        scene.c,
        errors.InvalidValue,
        lambda: scene.c.record_evaluation(
            actor=COMMISSIONER, held_on=date(2026, 1, 1), summary=" ", conclusions=""
        ),
    )
