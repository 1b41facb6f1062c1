"""Dialogue: sessions, proposals (scope refinement), consent, rejection, withdrawal, and
transparency towards residents (publications, consultations)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain import errors
from domain.events import (
    ConsentGiven,
    ProposalAgreed,
    ProposalRejected,
    ProposalSubmitted,
    ProposalWithdrawn,
    PublicationIssued,
    ResidentsConsulted,
    SessionHeld,
)
from domain.proposals import ProposalKind, ProposalStatus, ScopeRefinement
from domain.values import Participant, local_date
from tests.support.builders import (
    COMMISSIONER,
    COMMISSIONER_AUDITOR,
    OUTSIDER,
    PROVIDER_A,
    PROVIDER_B,
    PROVIDER_C,
    TERM,
    activated,
    active_contract,
    admitted,
    agreed,
    assert_rejected,
    consented,
    given,
    opened,
    proposed,
    session_held,
    suspended,
    terminated,
    then_events,
)

SHARPER = ScopeRefinement("Residents of Overvecht manage better, with their network, by 2027.")

# hold_session -----------------------------------------------------------------------------


def test_a_party_records_a_session_with_participants_minutes_and_summary():
    scene = given(opened(), admitted("zorg-a"))
    participants = [
        Participant("Ann de Vries", "gemeente-utrecht", "contract_manager"),
        Participant("Bob Bakker", "zorg-a", "contract_manager"),
    ]

    session_id = scene.c.hold_session(
        actor=PROVIDER_A,
        held_on=date(2025, 3, 10),
        kind="dialogue",
        participants=participants,
        minutes_ref="dms://minutes/42",
        summary="Agreed to sharpen the assignment",
    )

    (event,) = then_events(scene.c, SessionHeld)
    assert event.session_id == session_id
    assert event.held_on == date(2025, 3, 10)
    assert event.effective_on == date(2025, 3, 10)
    assert event.participants == tuple(participants)
    assert event.actor == PROVIDER_A
    session = scene.c.sessions[session_id]
    assert (session.kind, session.minutes_ref, session.summary) == (
        "dialogue",
        "dms://minutes/42",
        "Agreed to sharpen the assignment",
    )
    assert scene.c.correctable[str(event.originator_version)] == ["session", session_id]


def test_sessions_may_be_held_while_suspended():
    scene = given(opened(), admitted("zorg-a"), activated(), suspended())
    scene.c.hold_session(
        actor=COMMISSIONER,
        held_on=date(2025, 3, 10),
        kind="steering",
        participants=[Participant("Ann", "gemeente-utrecht", "cm")],
        minutes_ref="m",
        summary="s",
    )
    then_events(scene.c, SessionHeld)


@pytest.mark.parametrize(
    ("participants", "kind", "minutes_ref", "summary"),
    [
        ([], "dialogue", "m", "s"),
        ([Participant("A", "o", "r")], " ", "m", "s"),
        ([Participant("A", "o", "r")], "dialogue", "", "s"),
        ([Participant("A", "o", "r")], "dialogue", "m", "\t"),
    ],
)
def test_a_session_needs_participants_kind_minutes_and_summary(
    participants, kind, minutes_ref, summary
):
    scene = given(opened())
    assert_rejected(
        scene.c,
        errors.InvalidValue,
        lambda: scene.c.hold_session(
            actor=COMMISSIONER,
            held_on=date(2025, 3, 10),
            kind=kind,
            participants=participants,
            minutes_ref=minutes_ref,
            summary=summary,
        ),
    )


def test_an_outsider_cannot_record_a_session():
    scene = given(opened(), admitted("zorg-a"))
    assert_rejected(scene.c, errors.NotAParty, lambda: session_held("x", OUTSIDER)(scene))


def test_no_session_after_the_end():
    scene = given(opened(), terminated())
    assert_rejected(scene.c, errors.ContractClosed, lambda: session_held("x")(scene))


# submit_proposal --------------------------------------------------------------------------


def test_a_proposal_names_its_session_and_the_proposers_party_consents_at_once():
    scene = given(*active_contract("zorg-a", "welzijn-b"))

    proposal_id = scene.c.submit_proposal(
        actor=PROVIDER_A, session_id=scene["s1"], change=SHARPER, rationale="Clearer for all"
    )

    (event,) = then_events(scene.c, ProposalSubmitted)
    assert (event.proposal_id, event.kind, event.change) == (
        proposal_id,
        "scope_refinement",
        SHARPER,
    )
    assert event.session_id == scene["s1"]
    assert event.rationale == event.reason == "Clearer for all"
    proposal = scene.c.proposals[proposal_id]
    assert proposal.status == ProposalStatus.OPEN
    assert proposal.kind == ProposalKind.SCOPE_REFINEMENT
    assert proposal.consents == ["zorg-a"]
    assert proposal.proposed_by == PROVIDER_A
    assert proposal.session_id == scene["s1"]
    assert scene.c.assignment != SHARPER.assignment


def test_a_proposal_must_name_a_session():
    scene = given(*active_contract())
    for session_id in (None, ""):
        assert_rejected(
            scene.c,
            errors.SessionRequired,
            lambda session_id=session_id: scene.c.submit_proposal(
                actor=COMMISSIONER, session_id=session_id, change=SHARPER, rationale="r"
            ),
        )


def test_a_proposal_must_name_a_session_of_this_contract():
    other = given(*active_contract())
    scene = given(*active_contract())
    assert_rejected(
        scene.c,
        errors.UnknownSession,
        lambda: scene.c.submit_proposal(
            actor=COMMISSIONER, session_id=other["s1"], change=SHARPER, rationale="r"
        ),
    )


def test_proposals_need_an_active_contract():
    scene = given(opened(), admitted("zorg-a"), session_held("s1"))
    assert_rejected(
        scene.c,
        errors.ContractNotActive,
        lambda: proposed("p", SHARPER)(scene),
    )
    scene = given(*active_contract(), suspended())
    assert_rejected(scene.c, errors.ContractNotActive, lambda: proposed("p", SHARPER)(scene))


def test_an_outsider_cannot_propose():
    scene = given(*active_contract())
    assert_rejected(scene.c, errors.NotAParty, lambda: proposed("p", SHARPER, OUTSIDER)(scene))


@pytest.mark.parametrize(("text", "rationale"), [(" ", "r"), ("New text", "")])
def test_a_scope_refinement_needs_a_text_and_a_rationale(text, rationale):
    scene = given(*active_contract())
    assert_rejected(
        scene.c,
        errors.InvalidValue,
        lambda: scene.c.submit_proposal(
            actor=COMMISSIONER,
            session_id=scene["s1"],
            change=ScopeRefinement(text),
            rationale=rationale,
        ),
    )


def test_something_that_is_not_a_change_is_refused():
    scene = given(*active_contract())
    assert_rejected(
        scene.c,
        errors.InvalidValue,
        lambda: scene.c.submit_proposal(
            actor=COMMISSIONER,
            session_id=scene["s1"],
            change="just do it",  # type: ignore[arg-type]
            rationale="r",
        ),
    )


# give_consent -----------------------------------------------------------------------------


def test_a_consent_that_is_not_the_last_leaves_the_proposal_open():
    scene = given(*active_contract("zorg-a", "welzijn-b"), proposed("p", SHARPER))

    completed = scene.c.give_consent(actor=PROVIDER_A, proposal_id=scene["p"])

    (event,) = then_events(scene.c, ConsentGiven)
    assert completed is False
    assert (event.proposal_id, event.party, event.actor) == (scene["p"], "zorg-a", PROVIDER_A)
    # No session named, none recorded: the history does not claim it was given in the meeting
    # where the proposal was made.
    assert event.session_id is None
    assert scene.c.proposals[scene["p"]].status == ProposalStatus.OPEN
    assert scene.c.proposals[scene["p"]].consents == ["gemeente-utrecht", "zorg-a"]


def test_the_last_consent_agrees_the_proposal_and_applies_the_change_in_the_same_batch():
    scene = given(
        *active_contract("zorg-a", "welzijn-b"),
        session_held("s2"),
        proposed("p", SHARPER, by=PROVIDER_A),
        consented("p", PROVIDER_B),
    )
    before = scene.c.assignment

    completed = scene.c.give_consent(
        actor=COMMISSIONER,
        proposal_id=scene["p"],
        on_behalf_of="gemeente-utrecht",
        session_id=scene["s2"],
    )

    consent, agreement = then_events(scene.c, ConsentGiven, ProposalAgreed)
    assert completed is True
    assert consent.party == "gemeente-utrecht"
    assert consent.session_id == scene["s2"]
    assert agreement.proposal_id == scene["p"]
    assert agreement.kind == "scope_refinement"
    assert agreement.change == SHARPER
    assert agreement.session_id == scene["s1"]
    assert agreement.reason == "why p"
    assert agreement.actor == COMMISSIONER
    assert agreement.prior_digest == consent.digest
    assert agreement.originator_version == consent.originator_version + 1
    assert before != SHARPER.assignment
    assert scene.c.assignment == SHARPER.assignment
    proposal = scene.c.proposals[scene["p"]]
    assert proposal.status == ProposalStatus.AGREED
    assert proposal.closed_in_version == agreement.originator_version
    assert proposal.closed_by == COMMISSIONER


def test_any_person_of_a_party_may_consent_for_it():
    scene = given(*active_contract(), proposed("p", SHARPER, by=PROVIDER_A))
    scene.c.give_consent(actor=COMMISSIONER_AUDITOR, proposal_id=scene["p"])
    then_events(scene.c, ConsentGiven, ProposalAgreed)


def test_nobody_records_another_organisations_consent():
    scene = given(*active_contract("zorg-a", "welzijn-b"), proposed("p", SHARPER))
    error = assert_rejected(
        scene.c,
        errors.ConsentNotYours,
        lambda: scene.c.give_consent(
            actor=PROVIDER_A, proposal_id=scene["p"], on_behalf_of="welzijn-b"
        ),
    )
    assert error.code == "consent-not-yours"
    assert scene.c.proposals[scene["p"]].consents == ["gemeente-utrecht"]


def test_an_outsider_cannot_consent():
    scene = given(*active_contract(), proposed("p", SHARPER))
    assert_rejected(
        scene.c,
        errors.NotAParty,
        lambda: scene.c.give_consent(actor=OUTSIDER, proposal_id=scene["p"]),
    )


def test_a_withdrawn_provider_cannot_consent():
    scene = given(
        *active_contract("zorg-a", "welzijn-b", "buurtwerk-c"),
        proposed("p", SHARPER),
    )
    scene.c.withdraw_provider(actor=PROVIDER_C, org="buurtwerk-c", reason="leaving")
    scene.c.collect_events()
    assert_rejected(
        scene.c,
        errors.NotAParty,
        lambda: scene.c.give_consent(actor=PROVIDER_C, proposal_id=scene["p"]),
    )


def test_a_party_consents_once_and_the_proposer_already_has():
    scene = given(
        *active_contract("zorg-a", "welzijn-b"), proposed("p", SHARPER), consented("p", PROVIDER_A)
    )
    for actor in (COMMISSIONER, PROVIDER_A):
        assert_rejected(
            scene.c,
            errors.AlreadyConsented,
            lambda actor=actor: scene.c.give_consent(actor=actor, proposal_id=scene["p"]),
        )


def test_consent_to_an_unknown_proposal_is_refused():
    scene = given(*active_contract())
    assert_rejected(
        scene.c,
        errors.UnknownProposal,
        lambda: scene.c.give_consent(actor=PROVIDER_A, proposal_id="nope"),
    )


def test_consent_to_a_closed_proposal_is_refused():
    scene = given(*active_contract("zorg-a", "welzijn-b"), agreed("p", SHARPER))
    assert_rejected(
        scene.c,
        errors.ProposalNotOpen,
        lambda: scene.c.give_consent(actor=PROVIDER_A, proposal_id=scene["p"]),
    )


def test_consent_in_an_unknown_session_is_refused():
    scene = given(*active_contract(), proposed("p", SHARPER))
    assert_rejected(
        scene.c,
        errors.UnknownSession,
        lambda: scene.c.give_consent(actor=PROVIDER_A, proposal_id=scene["p"], session_id="x"),
    )


def test_no_consent_while_suspended():
    scene = given(*active_contract(), proposed("p", SHARPER), suspended())
    assert_rejected(
        scene.c,
        errors.ContractNotActive,
        lambda: scene.c.give_consent(actor=PROVIDER_A, proposal_id=scene["p"]),
    )


# reject_proposal --------------------------------------------------------------------------


def test_a_party_rejects_a_proposal_and_it_is_closed():
    scene = given(*active_contract("zorg-a", "welzijn-b"), proposed("p", SHARPER))

    scene.c.reject_proposal(actor=PROVIDER_B, proposal_id=scene["p"], reason="too vague")

    (event,) = then_events(scene.c, ProposalRejected)
    assert (event.proposal_id, event.party, event.reason) == (scene["p"], "welzijn-b", "too vague")
    assert event.session_id is None  # none named
    proposal = scene.c.proposals[scene["p"]]
    assert proposal.status == ProposalStatus.REJECTED
    assert proposal.closed_by == PROVIDER_B
    assert proposal.closing_reason == "too vague"
    assert scene.c.assignment != SHARPER.assignment


def test_a_rejection_needs_a_reason_and_an_open_proposal():
    scene = given(*active_contract(), proposed("p", SHARPER))
    assert_rejected(
        scene.c,
        errors.InvalidValue,
        lambda: scene.c.reject_proposal(actor=PROVIDER_A, proposal_id=scene["p"], reason=" "),
    )
    scene.c.reject_proposal(actor=PROVIDER_A, proposal_id=scene["p"], reason="no")
    assert_rejected(
        scene.c,
        errors.ProposalNotOpen,
        lambda: scene.c.reject_proposal(actor=PROVIDER_A, proposal_id=scene["p"], reason="no"),
    )
    assert_rejected(
        scene.c,
        errors.UnknownProposal,
        lambda: scene.c.reject_proposal(actor=PROVIDER_A, proposal_id="nope", reason="no"),
    )
    assert_rejected(
        scene.c,
        errors.NotAParty,
        lambda: scene.c.reject_proposal(actor=OUTSIDER, proposal_id=scene["p"], reason="no"),
    )


# withdraw_proposal ------------------------------------------------------------------------


def test_the_proposers_party_withdraws_its_proposal():
    scene = given(*active_contract(), proposed("p", SHARPER, by=PROVIDER_A))

    scene.c.withdraw_proposal(
        actor=PROVIDER_A, proposal_id=scene["p"], reason="overtaken", session_id=scene["s1"]
    )

    (event,) = then_events(scene.c, ProposalWithdrawn)
    assert (event.proposal_id, event.reason, event.session_id) == (
        scene["p"],
        "overtaken",
        scene["s1"],
    )
    assert scene.c.proposals[scene["p"]].status == ProposalStatus.WITHDRAWN


def test_only_the_proposers_party_may_withdraw():
    scene = given(*active_contract(), proposed("p", SHARPER, by=PROVIDER_A))
    error = assert_rejected(
        scene.c,
        errors.NotProposer,
        lambda: scene.c.withdraw_proposal(actor=COMMISSIONER, proposal_id=scene["p"], reason="r"),
    )
    assert error.code == "not-proposer"


def test_a_withdrawn_proposal_cannot_be_consented_to():
    scene = given(*active_contract("zorg-a", "welzijn-b"), proposed("p", SHARPER))
    scene.c.withdraw_proposal(actor=COMMISSIONER, proposal_id=scene["p"], reason="r")
    assert_rejected(
        scene.c,
        errors.ProposalNotOpen,
        lambda: scene.c.give_consent(actor=PROVIDER_A, proposal_id=scene["p"]),
    )


# publications and residents ---------------------------------------------------------------


def test_a_party_issues_a_publication_for_residents():
    scene = given(opened(), admitted("zorg-a"))

    publication_id = scene.c.issue_publication(
        actor=COMMISSIONER,
        audience="residents",
        channel="wijkkrant",
        summary="What we agreed this year",
    )

    (event,) = then_events(scene.c, PublicationIssued)
    assert (event.publication_id, event.audience, event.channel) == (
        publication_id,
        "residents",
        "wijkkrant",
    )
    (publication,) = scene.c.publications
    assert publication.summary == "What we agreed this year"
    assert publication.issued_on == event.effective_on


def test_publications_are_allowed_after_the_end():
    scene = given(*active_contract(), terminated())
    scene.c.issue_publication(
        actor=PROVIDER_A, audience="council", channel="raadsbrief", summary="s"
    )
    then_events(scene.c, PublicationIssued)


def test_a_publication_needs_a_party_and_its_texts():
    scene = given(opened())
    assert_rejected(
        scene.c,
        errors.NotAParty,
        lambda: scene.c.issue_publication(actor=OUTSIDER, audience="a", channel="c", summary="s"),
    )
    assert_rejected(
        scene.c,
        errors.InvalidValue,
        lambda: scene.c.issue_publication(
            actor=COMMISSIONER, audience="a", channel=" ", summary="s"
        ),
    )


def test_a_party_records_a_residents_consultation():
    scene = given(*active_contract())

    consultation_id = scene.c.consult_residents(
        actor=PROVIDER_A,
        held_on=date(2025, 4, 2),
        method="bewonersavond",
        summary="Residents want evening hours",
        participants_count=37,
    )

    (event,) = then_events(scene.c, ResidentsConsulted)
    assert event.consultation_id == consultation_id
    assert event.effective_on == date(2025, 4, 2)
    assert event.participants_count == 37
    (consultation,) = scene.c.consultations
    assert consultation.method == "bewonersavond"


def test_a_consultation_cannot_have_a_negative_count_or_happen_after_the_end():
    scene = given(*active_contract())
    assert_rejected(
        scene.c,
        errors.InvalidValue,
        lambda: scene.c.consult_residents(
            actor=PROVIDER_A,
            held_on=date(2025, 4, 2),
            method="m",
            summary="s",
            participants_count=-1,
        ),
    )
    scene = given(*active_contract(), terminated())
    assert_rejected(
        scene.c,
        errors.ContractClosed,
        lambda: scene.c.consult_residents(
            actor=PROVIDER_A,
            held_on=date(2025, 4, 2),
            method="m",
            summary="s",
            participants_count=1,
        ),
    )


def test_a_proposal_is_never_left_open_with_every_partys_consent():
    """BUG (domain/contract.py: withdraw_provider lets the last provider leave an active
    contract, and submit_proposal never agrees a proposal): when the commissioner is the only
    party left, its own proposal has every consent it needs but stays open for ever — its own
    consent is refused as already given, and no other party can consent.

    Either fix makes this pass: refuse the last provider's withdrawal while the contract is
    active, or agree a proposal on submission when the proposer is the only party."""
    scene = given(*active_contract("zorg-a"))
    try:
        scene.c.withdraw_provider(actor=PROVIDER_A, org="zorg-a", reason="leaving")
    except errors.DomainError:
        return  # the contract keeps at least one provider while active: fine
    assert scene.c.parties == {"gemeente-utrecht"}

    proposal_id = scene.c.submit_proposal(
        actor=COMMISSIONER, session_id=scene["s1"], change=SHARPER, rationale="r"
    )

    assert scene.c.proposals[proposal_id].status == ProposalStatus.AGREED
    assert scene.c.assignment == SHARPER.assignment


# provenance: only what the caller names -----------------------------------------------------


def test_a_consent_rejection_or_withdrawal_records_the_session_the_caller_names():
    scene = given(
        *active_contract("zorg-a", "welzijn-b"),
        session_held("s2"),
        proposed("p", SHARPER),
        proposed("q", SHARPER, by=PROVIDER_A),
    )
    scene.c.give_consent(actor=PROVIDER_A, proposal_id=scene["p"], session_id=scene["s2"])
    scene.c.reject_proposal(
        actor=PROVIDER_B, proposal_id=scene["p"], reason="no", session_id=scene["s2"]
    )
    consent, rejection = then_events(scene.c, ConsentGiven, ProposalRejected)
    assert consent.session_id == rejection.session_id == scene["s2"]


@pytest.mark.parametrize("act", ["consent", "reject", "withdraw"])
def test_a_named_session_must_exist_on_the_contract(act):
    scene = given(*active_contract(), proposed("p", SHARPER, by=PROVIDER_A))
    commands = {
        "consent": lambda: scene.c.give_consent(
            actor=COMMISSIONER, proposal_id=scene["p"], session_id="elders"
        ),
        "reject": lambda: scene.c.reject_proposal(
            actor=COMMISSIONER, proposal_id=scene["p"], reason="r", session_id="elders"
        ),
        "withdraw": lambda: scene.c.withdraw_proposal(
            actor=PROVIDER_A, proposal_id=scene["p"], reason="r", session_id="elders"
        ),
    }
    assert_rejected(scene.c, errors.UnknownSession, commands[act])


@pytest.mark.parametrize(
    "held_on",
    [date(2024, 12, 31), local_date(datetime.now(UTC)) + timedelta(days=2), date(1999, 1, 1)],
)
def test_a_session_lies_between_the_opening_and_today(held_on):
    scene = given(*active_contract())
    error = assert_rejected(
        scene.c,
        errors.InvalidValue,
        lambda: scene.c.hold_session(
            actor=COMMISSIONER,
            held_on=held_on,
            kind="dialogue",
            participants=[Participant("Ann de Vries", "gemeente-utrecht", "contract_manager")],
            minutes_ref="m",
            summary="s",
        ),
    )
    assert "between the contract's opening" in error.detail


def test_participants_are_of_a_party_a_stakeholder_or_marked_external():
    scene = given(*active_contract())
    with scene.c.taking_effect_on(TERM.start):
        stakeholder_id = scene.c.register_stakeholder(actor=COMMISSIONER, name="GGD", kind="health")

    def hold(*participants):
        return lambda: scene.c.hold_session(
            actor=COMMISSIONER,
            held_on=date(2025, 5, 1),
            kind="dialogue",
            participants=list(participants),
            minutes_ref="m",
            summary="s",
        )

    error = assert_rejected(
        scene.c, errors.InvalidValue, hold(Participant("Nemo", "nobody", "guest"))
    )
    assert "'nobody'" in error.detail
    hold(
        Participant("Ann de Vries", "gemeente-utrecht", "contract_manager"),
        Participant("Bob Bakker", "zorg-a", "contract_manager"),
        Participant("Gea", stakeholder_id, "adviser"),
        Participant("Prof. X", "universiteit", "expert", external=True),
    )()
    (held,) = [e for e in scene.c.collect_events() if isinstance(e, SessionHeld)]
    assert [p.external for p in held.participants] == [False, False, False, True]
