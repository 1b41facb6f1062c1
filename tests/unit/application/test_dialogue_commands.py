"""The dialogue: HoldSession, SubmitProposal, GiveConsent, RejectProposal, WithdrawProposal —
on the in-memory store."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from application.commands import (
    GiveConsent,
    HoldSession,
    RejectProposal,
    SubmitProposal,
    WithdrawProposal,
)
from application.principal import Principal
from application.views import ProposalData, SessionData, View
from domain.contract import Contract
from domain.errors import (
    ConsentNotYours,
    InvalidValue,
    NotProposer,
    UnknownProposal,
    UnknownSession,
)
from domain.proposals import ScopeRefinement
from domain.values import Participant
from tests.support.app import COMMISSIONER, PROVIDER
from tests.support.use_cases import SECOND_PROVIDER, Case, Checks, World

PEOPLE = (
    Participant("Ann de Vries", "gemeente-utrecht", "contract manager"),
    Participant("Bob Bakker", "zorg-a", "contract manager"),
)


def session(contract_id: str, summary: str = "second dialogue") -> HoldSession:
    return HoldSession(
        contract_id,
        held_on=date(2025, 3, 3),
        kind="dialogue",
        participants=PEOPLE,
        minutes_ref="MIN-2",
        summary=summary,
    )


def proposal(world: World, session_id: str | None = None) -> SubmitProposal:
    return SubmitProposal(
        world.contract_id,
        session_id=session_id or world.session_id,
        change=ScopeRefinement("Help residents live at home, with their neighbours"),
        rationale="what the session asked",
    )


CASES = [
    Case(
        "hold_session",
        PROVIDER,
        lambda w: session(w.contract_id),
        View.SESSION,
        refused=lambda w: session(w.contract_id, summary=""),
        refused_with=InvalidValue,
    ),
    Case(
        "submit_proposal",
        COMMISSIONER,
        lambda w: proposal(w),
        View.PROPOSAL,
        refused=lambda w: proposal(w, session_id="no-such-session"),
        refused_with=UnknownSession,
    ),
    Case(
        "give_consent",
        COMMISSIONER,
        lambda w: GiveConsent(w.contract_id, proposal_id=w.proposal_id),
        View.PROPOSAL,
        refused=lambda w: GiveConsent(
            w.contract_id, proposal_id=w.proposal_id, on_behalf_of=SECOND_PROVIDER
        ),
        refused_with=ConsentNotYours,
    ),
    Case(
        "reject_proposal",
        COMMISSIONER,
        lambda w: RejectProposal(w.contract_id, proposal_id=w.proposal_id, reason="too vague"),
        View.PROPOSAL,
        refused=lambda w: RejectProposal(w.contract_id, proposal_id="p-none", reason="no"),
        refused_with=UnknownProposal,
    ),
    Case(
        "withdraw_proposal",
        PROVIDER,
        lambda w: WithdrawProposal(w.contract_id, proposal_id=w.proposal_id, reason="rethink"),
        View.PROPOSAL,
        refused=lambda w: WithdrawProposal(
            w.contract_id, proposal_id=w.proposal_id, reason="not ours to withdraw"
        ),
        refused_with=NotProposer,
        refused_by=COMMISSIONER,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_refusal_stores_nothing(checks: Checks, case: Case) -> None:
    checks.refusal_stores_nothing(case)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_repeat_under_the_same_key_is_answered_once(checks: Checks, case: Case) -> None:
    checks.repeat_is_answered_once(case)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_stale_version_is_refused(checks: Checks, case: Case) -> None:
    checks.stale_version_is_refused(case)


def test_a_session_is_answered_as_the_record_created(world: World) -> None:
    result = world.service.handle(PROVIDER, session(world.contract_id), view=View.SESSION)
    assert isinstance(result.view.body, SessionData)
    assert result.view.body.session_id == result.created_id
    assert [p.org for p in result.view.body.participants] == ["gemeente-utrecht", "zorg-a"]


def test_a_proposal_counts_its_proposer_and_awaits_the_other_parties(world: World) -> None:
    result = world.service.handle(COMMISSIONER, proposal(world), view=View.PROPOSAL)
    body = result.view.body
    assert isinstance(body, ProposalData)
    assert (body.status, body.consents) == ("open", [COMMISSIONER.org])
    assert body.awaiting == sorted([PROVIDER.org, SECOND_PROVIDER])


def test_consent_of_every_party_agrees_the_proposal_and_puts_the_change_in_force(
    world: World,
) -> None:
    world.service.handle(
        COMMISSIONER, GiveConsent(world.contract_id, proposal_id=world.proposal_id)
    )
    provider_b = Principal("bea", "Bea Bos", SECOND_PROVIDER, frozenset({"contract_manager"}))
    result = world.service.handle(
        provider_b,
        GiveConsent(world.contract_id, proposal_id=world.proposal_id),
        view=View.PROPOSAL,
    )
    assert result.view.body.status == "agreed" and result.view.body.awaiting == []
    contract = world.service.get_contract(COMMISSIONER, world.contract_id)
    assert contract.assignment == "Help residents live at home, evenings too"


def test_a_rejected_or_withdrawn_proposal_is_closed_with_its_reason(world: World) -> None:
    rejected = world.service.handle(
        COMMISSIONER,
        RejectProposal(world.contract_id, proposal_id=world.proposal_id, reason="too vague"),
        view=View.PROPOSAL,
    )
    assert (rejected.view.body.status, rejected.view.body.closing_reason) == (
        "rejected",
        "too vague",
    )
    again = world.service.handle(PROVIDER, proposal(world)).created_id
    withdrawn = world.service.handle(
        PROVIDER,
        WithdrawProposal(world.contract_id, proposal_id=str(again), reason="rethink"),
        view=View.PROPOSAL,
    )
    assert withdrawn.view.body.status == "withdrawn"
    assert withdrawn.created_id == again


def test_a_repeat_and_a_proposal_read_each_load_the_contract_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    consent = GiveConsent(world.contract_id, proposal_id=world.proposal_id)
    first = world.service.handle(COMMISSIONER, consent, idempotency_key="k", view=View.PROPOSAL)
    loads: list[int | None] = []
    load = world.service._load

    def counting(contract_id: UUID, version: int | None = None, **options: bool) -> Contract:
        loads.append(version)
        return load(contract_id, version, **options)

    monkeypatch.setattr(world.service, "_load", counting)
    again = world.service.handle(COMMISSIONER, consent, idempotency_key="k", view=View.PROPOSAL)
    assert again.view == first.view and loads == [first.version]
    loads.clear()
    read = world.service.get_proposal(PROVIDER, world.contract_id, world.proposal_id)
    assert (read.version, read.body) == (first.version, first.view.body) and loads == [None]
