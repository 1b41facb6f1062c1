"""Setup: opening a contract, admitting and withdrawing providers, registering stakeholders."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from domain import errors
from domain.chain import GENESIS_DIGEST
from domain.contract import Contract
from domain.events import (
    AccessGranted,
    ContractOpened,
    ProposalAgreed,
    ProviderAccepted,
    ProviderAdmitted,
    ProviderDeclined,
    ProviderWithdrew,
    StakeholderRegistered,
)
from domain.proposals import ScopeRefinement
from domain.values import Actor, ContractStatus, Participant, Period, ProviderStatus, local_date
from tests.support.builders import (
    BUDGET_PERIOD,
    CEILING,
    COMMISSIONER,
    OUTSIDER,
    PROVIDER_A,
    PROVIDER_B,
    TERM,
    activated,
    active_contract,
    adjustment,
    admitted,
    allocated,
    allocations,
    assert_rejected,
    consented,
    given,
    invited,
    opened,
    proposed,
    session_held,
    terminated,
    then_events,
)

# open -------------------------------------------------------------------------------------


def test_open_records_the_framework_and_makes_the_actors_org_the_commissioner():
    contract_id = UUID("12345678-1234-5678-1234-567812345678")

    contract = Contract.open(
        actor=COMMISSIONER,
        reference=" UTR-1 ",
        title="Wijkteams",
        assignment="Global assignment",
        procedure="dialogue",
        term=TERM,
        ceiling=Decimal("250000"),
        budget_period=BUDGET_PERIOD,
        reason="raadsbesluit 2024-17",
        decision_ref="RB-2024-17",
        effective_on=date(2025, 1, 1),
        contract_id=contract_id,
    )

    (event,) = then_events(contract, ContractOpened)
    assert event.originator_id == contract_id
    assert event.originator_version == 1
    assert event.actor == COMMISSIONER
    assert event.reference == "UTR-1"
    assert event.ceiling == Decimal("250000.00")
    assert str(event.ceiling) == "250000.00"
    assert event.commissioner == "gemeente-utrecht"
    assert event.decision_ref == "RB-2024-17"
    assert event.effective_on == date(2025, 1, 1)
    assert event.session_id is None
    assert event.prior_digest == GENESIS_DIGEST
    assert contract.id == contract_id
    assert contract.status == ContractStatus.DRAFT
    assert contract.commissioner == "gemeente-utrecht"
    assert contract.parties == {"gemeente-utrecht"}
    assert contract.term == TERM
    assert contract.framework.ceiling == Decimal("250000.00")
    assert contract.framework.initial_value == Decimal("250000.00")
    assert contract.framework.allocations == {}
    assert contract.framework.cumulative_change_value == Decimal("0")
    assert contract.framework.change_limit == Decimal("25000.00")
    assert contract.framework.change_limit_exceeded is False
    assert contract.head_digest == event.digest


def test_open_defaults_the_effective_date_to_the_recording_date_in_the_netherlands():
    contract = given(opened()).c
    assert contract.version == 1
    assert contract._created_on is not None
    assert contract._created_on.tzinfo is not None
    assert contract.framework.period == BUDGET_PERIOD


def test_the_opening_takes_effect_on_the_terms_start_unless_said_otherwise():
    contract = Contract.open(
        actor=COMMISSIONER,
        reference="R",
        title="T",
        assignment="A",
        procedure="subsidy",
        term=TERM,
        ceiling=CEILING,
        budget_period=BUDGET_PERIOD,
    )
    (event,) = contract.collect_events()
    assert event.effective_on == TERM.start
    assert event.timestamp.tzinfo is not None
    assert contract.opened_on == TERM.start


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"ceiling": Decimal("0")}, errors.InvalidValue),
        ({"ceiling": Decimal("-1")}, errors.InvalidValue),
        ({"ceiling": Decimal("10.001")}, errors.InvalidValue),
        ({"ceiling": 10.5}, errors.InvalidValue),
        ({"reference": "  "}, errors.InvalidValue),
        ({"title": ""}, errors.InvalidValue),
        ({"assignment": " "}, errors.InvalidValue),
    ],
)
def test_open_refuses_invalid_values(overrides, error):
    arguments = {
        "actor": COMMISSIONER,
        "reference": "R",
        "title": "T",
        "assignment": "A",
        "procedure": "dialogue",
        "term": TERM,
        "ceiling": CEILING,
        "budget_period": BUDGET_PERIOD,
    }
    arguments.update(overrides)
    with pytest.raises(error) as caught:
        Contract.open(**arguments)
    assert caught.value.code == error.code


def test_a_period_cannot_end_before_it_starts():
    with pytest.raises(errors.InvalidTerm) as caught:
        Period(date(2025, 1, 2), date(2025, 1, 1))
    assert caught.value.code == "invalid-term"


# admit_provider ---------------------------------------------------------------------------


def test_admit_provider_records_the_preselection_rationale_and_invites_it():
    scene = given(opened())

    scene.c.admit_provider(
        actor=COMMISSIONER,
        org="zorg-a",
        name="Zorg A",
        rationale="Strong track record in Overvecht",
        effective_on=date(2025, 1, 15),
    )

    (event,) = then_events(scene.c, ProviderAdmitted)
    assert (event.org, event.name, event.rationale) == (
        "zorg-a",
        "Zorg A",
        "Strong track record in Overvecht",
    )
    assert event.reason == "Strong track record in Overvecht"
    assert event.effective_on == date(2025, 1, 15)
    assert event.originator_version == 2
    provider = scene.c.providers["zorg-a"]
    assert provider.status == ProviderStatus.INVITED
    assert provider.admitted_on == date(2025, 1, 15)
    # Invited: it sees the contract but is not asked for consent until its own people accept.
    assert scene.c.parties == {"gemeente-utrecht"}
    assert scene.c.members == {"gemeente-utrecht", "zorg-a"}
    scene.c.accept_invitation(actor=PROVIDER_A)
    (accepted,) = then_events(scene.c, ProviderAccepted)
    assert (accepted.org, accepted.actor) == ("zorg-a", PROVIDER_A)
    assert provider.status == ProviderStatus.ACTIVE
    assert scene.c.parties == {"gemeente-utrecht", "zorg-a"}


def test_admit_provider_again_after_it_withdrew():
    scene = given(opened(), admitted("zorg-a"), _withdraw(PROVIDER_A))

    scene.c.admit_provider(actor=COMMISSIONER, org="zorg-a", name="Zorg A", rationale="back")

    then_events(scene.c, ProviderAdmitted)
    assert scene.c.providers["zorg-a"].status == ProviderStatus.INVITED


def test_only_the_commissioner_admits_providers():
    scene = given(opened(), admitted("zorg-a"))
    error = assert_rejected(
        scene.c,
        errors.CommissionerOnly,
        lambda: scene.c.admit_provider(actor=PROVIDER_A, org="welzijn-b", name="B", rationale="r"),
    )
    assert error.code == "commissioner-only"


def test_a_provider_is_admitted_once():
    scene = given(opened(), admitted("zorg-a"))
    assert_rejected(
        scene.c,
        errors.ProviderAlreadyAdmitted,
        lambda: scene.c.admit_provider(
            actor=COMMISSIONER, org="zorg-a", name="Zorg A", rationale="again"
        ),
    )


@pytest.mark.parametrize(
    ("org", "name", "rationale"),
    [
        ("gemeente-utrecht", "Self", "r"),
        (" ", "Nobody", "r"),
        ("welzijn-b", "", "r"),
        ("welzijn-b", "Welzijn B", "  "),
    ],
)
def test_admit_provider_refuses_invalid_values(org, name, rationale):
    scene = given(opened())
    assert_rejected(
        scene.c,
        errors.InvalidValue,
        lambda: scene.c.admit_provider(actor=COMMISSIONER, org=org, name=name, rationale=rationale),
    )


def test_no_provider_is_admitted_after_the_end():
    scene = given(opened(), terminated())
    assert_rejected(
        scene.c,
        errors.ContractClosed,
        lambda: scene.c.admit_provider(actor=COMMISSIONER, org="zorg-a", name="A", rationale="r"),
    )


# withdraw_provider ------------------------------------------------------------------------


def _withdraw(actor):
    def step(scene):
        scene.c.withdraw_provider(actor=actor, org="zorg-a", reason="capacity")

    return step


def test_a_provider_withdraws_itself_and_its_allocation_is_freed():
    scene = given(*active_contract("zorg-a", "welzijn-b"), allocated(zorg_a="300000.00"))
    assert scene.c.framework.allocations == {"zorg-a": Decimal("300000.00")}

    scene.c.withdraw_provider(actor=PROVIDER_A, org="zorg-a", reason="no capacity")

    (event,) = then_events(scene.c, ProviderWithdrew)
    assert (event.org, event.reason, event.actor) == ("zorg-a", "no capacity", PROVIDER_A)
    assert scene.c.providers["zorg-a"].status == ProviderStatus.WITHDRAWN
    assert scene.c.parties == {"gemeente-utrecht", "welzijn-b"}
    assert scene.c.framework.allocations == {}


def test_the_commissioner_may_withdraw_a_provider():
    scene = given(opened(), admitted("zorg-a"))
    scene.c.withdraw_provider(actor=COMMISSIONER, org="zorg-a", reason="ground")
    then_events(scene.c, ProviderWithdrew)
    assert scene.c.parties == {"gemeente-utrecht"}


def test_a_withdrawal_completes_proposals_the_remaining_parties_all_consented_to():
    scene = given(
        *active_contract("zorg-a", "welzijn-b"),
        proposed("p", ScopeRefinement("Sharper text")),
        consented("p", PROVIDER_A),
    )

    scene.c.withdraw_provider(actor=PROVIDER_B, org="welzijn-b", reason="leaving")

    withdrew, agreed = then_events(scene.c, ProviderWithdrew, ProposalAgreed)
    assert agreed.proposal_id == scene["p"]
    assert agreed.actor == PROVIDER_B
    assert agreed.prior_digest == withdrew.digest
    assert scene.c.assignment == "Sharper text"


def test_one_provider_cannot_withdraw_another():
    scene = given(opened(), admitted("zorg-a", "welzijn-b"))
    assert_rejected(
        scene.c,
        errors.CommissionerOnly,
        lambda: scene.c.withdraw_provider(actor=PROVIDER_B, org="zorg-a", reason="r"),
    )


def test_withdrawing_an_unknown_or_withdrawn_provider_is_refused():
    scene = given(opened(), admitted("zorg-a"), _withdraw(COMMISSIONER))
    for org in ("zorg-a", "welzijn-b"):
        assert_rejected(
            scene.c,
            errors.UnknownProvider,
            lambda org=org: scene.c.withdraw_provider(actor=COMMISSIONER, org=org, reason="r"),
        )


def test_a_withdrawn_provider_is_no_longer_a_party():
    scene = given(opened(), admitted("zorg-a"), _withdraw(PROVIDER_A))
    assert_rejected(
        scene.c,
        errors.NotAParty,
        lambda: scene.c.withdraw_provider(actor=PROVIDER_A, org="zorg-a", reason="again"),
    )


def test_a_withdrawal_needs_a_reason():
    scene = given(opened(), admitted("zorg-a"))
    assert_rejected(
        scene.c,
        errors.InvalidValue,
        lambda: scene.c.withdraw_provider(actor=PROVIDER_A, org="zorg-a", reason=" "),
    )


def test_no_withdrawal_after_the_end():
    scene = given(opened(), admitted("zorg-a"), terminated())
    assert_rejected(
        scene.c,
        errors.ContractClosed,
        lambda: scene.c.withdraw_provider(actor=PROVIDER_A, org="zorg-a", reason="r"),
    )


# register_stakeholder ---------------------------------------------------------------------


def test_a_party_registers_a_stakeholder_without_a_vote():
    scene = given(opened(), admitted("zorg-a"), activated())

    stakeholder_id = scene.c.register_stakeholder(
        actor=PROVIDER_A,
        name="Cliëntenraad Utrecht",
        kind="client_council",
        contact="  secretariaat@clientenraad.example  ",
        reason="involve",
    )

    (event,) = then_events(scene.c, StakeholderRegistered)
    assert (event.stakeholder_id, event.name, event.kind) == (
        stakeholder_id,
        "Cliëntenraad Utrecht",
        "client_council",
    )
    assert event.contact == "secretariaat@clientenraad.example"
    assert event.reason == "involve"
    stakeholder = scene.c.stakeholders[stakeholder_id]
    assert stakeholder.name == "Cliëntenraad Utrecht"
    assert stakeholder.contact == "secretariaat@clientenraad.example"
    assert "Cliëntenraad Utrecht" not in scene.c.parties


def test_an_outsider_cannot_register_a_stakeholder():
    scene = given(opened())
    assert_rejected(
        scene.c,
        errors.NotAParty,
        lambda: scene.c.register_stakeholder(actor=OUTSIDER, name="X", kind="employer"),
    )


@pytest.mark.parametrize(("name", "kind"), [("", "employer"), ("Werkgever", " ")])
def test_a_stakeholder_needs_a_name_and_kind(name, kind):
    scene = given(opened())
    assert_rejected(
        scene.c,
        errors.InvalidValue,
        lambda: scene.c.register_stakeholder(actor=COMMISSIONER, name=name, kind=kind),
    )


def test_no_stakeholder_after_the_end():
    scene = given(opened(), terminated())
    assert_rejected(
        scene.c,
        errors.ContractClosed,
        lambda: scene.c.register_stakeholder(actor=COMMISSIONER, name="X", kind="school"),
    )


# participation: a provider becomes a party when its own people accept ------------------------


def test_only_the_invited_providers_own_people_accept_or_decline():
    scene = given(opened(), invited("zorg-a"))
    for someone in (COMMISSIONER, PROVIDER_B, OUTSIDER):
        error = assert_rejected(
            scene.c, errors.NotInvited, lambda a=someone: scene.c.accept_invitation(actor=a)
        )
        assert error.code == "not-invited"
    scene.c.decline_invitation(actor=PROVIDER_A, reason="no capacity this year")
    (declined,) = then_events(scene.c, ProviderDeclined)
    assert (declined.org, declined.reason) == ("zorg-a", "no capacity this year")
    assert scene.c.providers["zorg-a"].status == ProviderStatus.DECLINED
    assert_rejected(scene.c, errors.NotInvited, lambda: scene.c.accept_invitation(actor=PROVIDER_A))


def test_activation_needs_an_accepted_provider_and_an_invited_one_gets_no_money():
    scene = given(opened(), invited("zorg-a"))
    assert_rejected(scene.c, errors.NoProviders, lambda: scene.c.activate(actor=COMMISSIONER))
    scene = given(
        opened(), admitted("zorg-a"), invited("welzijn-b"), activated(), session_held("s1")
    )
    change = adjustment(allocations=allocations(welzijn_b="1000.00"))
    assert_rejected(
        scene.c,
        errors.UnknownProvider,
        lambda: scene.c.submit_proposal(
            actor=COMMISSIONER, session_id=scene["s1"], change=change, rationale="r"
        ),
    )


def test_the_commissioner_may_withdraw_an_unanswered_invitation():
    scene = given(opened(), invited("zorg-a"))
    scene.c.withdraw_provider(actor=COMMISSIONER, org="zorg-a", reason="preselection redone")
    assert scene.c.providers["zorg-a"].status == ProviderStatus.WITHDRAWN
    assert scene.c.members == {"gemeente-utrecht"}


@pytest.mark.parametrize(
    "org", ["Buurtteam-Noord", "buurtteam-noord\u200b", "buurtteam--noord", "ab", "-ab", "a" * 65]
)
def test_organisation_ids_follow_one_pattern(org):
    scene = given(opened())
    assert_rejected(
        scene.c,
        errors.InvalidValue,
        lambda: scene.c.admit_provider(actor=COMMISSIONER, org=org, name="N", rationale="r"),
    )


# access grants: outside auditors read, never write -----------------------------------------


def test_the_commissioner_grants_and_revokes_read_access():
    scene = given(*active_contract())
    grant_id = scene.c.grant_access(
        actor=COMMISSIONER,
        org="rekenkamer-utrecht",
        role="auditor",
        until=date(2099, 12, 31),
        reason="Onderzoek naar de inkoop van wijkteams",
    )
    (granted,) = then_events(scene.c, AccessGranted)
    assert (granted.org, granted.role, granted.until) == (
        "rekenkamer-utrecht",
        "auditor",
        date(2099, 12, 31),
    )
    today = local_date(datetime.now(UTC))
    assert scene.c.access_of("rekenkamer-utrecht", today) == "auditor"
    assert scene.c.access_of("rekenkamer-utrecht", date(2100, 1, 1)) is None
    assert "rekenkamer-utrecht" not in scene.c.members
    outsider = Actor("r1", "Rita", "rekenkamer-utrecht", "auditor")
    assert_rejected(
        scene.c,
        errors.NotAParty,
        lambda: scene.c.hold_session(
            actor=outsider,
            held_on=date(2025, 5, 1),
            kind="audit",
            participants=[Participant("Rita", "rekenkamer-utrecht", "auditor", external=True)],
            minutes_ref="m",
            summary="s",
        ),
    )
    scene.c.revoke_access(actor=COMMISSIONER, grant_id=grant_id, reason="onderzoek afgerond")
    assert scene.c.access_of("rekenkamer-utrecht", today) is None
    assert_rejected(
        scene.c,
        errors.UnknownGrant,
        lambda: scene.c.revoke_access(actor=COMMISSIONER, grant_id=grant_id, reason="again"),
    )


@pytest.mark.parametrize(
    "by, org, role, until, error",
    [
        ("provider", "rekenkamer-utrecht", "auditor", None, errors.CommissionerOnly),
        ("commissioner", "zorg-a", "auditor", None, errors.InvalidValue),
        ("commissioner", "rekenkamer-utrecht", "owner", None, errors.InvalidValue),
        ("commissioner", "rekenkamer-utrecht", "reader", date(2020, 1, 1), errors.InvalidValue),
        ("commissioner", "Rekenkamer", "reader", None, errors.InvalidValue),
    ],
)
def test_grants_that_break_a_rule_are_refused(by, org, role, until, error):
    scene = given(*active_contract())
    actor = COMMISSIONER if by == "commissioner" else PROVIDER_A
    assert_rejected(
        scene.c,
        error,
        lambda: scene.c.grant_access(actor=actor, org=org, role=role, until=until, reason="r"),
    )
