"""Opening a contract and its parties: OpenContract, AdmitProvider, WithdrawProvider,
RegisterStakeholder — on the in-memory store."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from application.commands import (
    AcceptInvitation,
    AdmitProvider,
    DeclineInvitation,
    GrantAccess,
    OpenContract,
    RegisterStakeholder,
    RevokeAccess,
    WithdrawProvider,
)
from application.errors import ContractNotFound, NotPermitted, ReferenceTaken
from application.service import ContractService
from application.views import ContractState, StakeholderData, View
from domain.errors import InvalidValue, UnknownProvider
from domain.values import Period
from tests.support import people
from tests.support.app import COMMISSIONER, OUTSIDER, PROVIDER, READER
from tests.support.use_cases import SECOND_PROVIDER, Case, Checks, World, stored

TERM = Period(date(2025, 1, 1), date(2028, 12, 31))


def opening(reference: str) -> OpenContract:
    return OpenContract(
        reference=reference,
        title="Wijkteams Utrecht",
        assignment="Help residents live at home",
        procedure="dialogue",
        term=TERM,
        ceiling=Decimal("1000000.00"),
        budget_period=TERM,
    )


CASES = [
    Case(
        "open_contract",
        COMMISSIONER,
        lambda w: opening("WMO-2025-99"),
        View.CONTRACT,
        refused=lambda w: opening("wmo-2025-01"),  # taken, in any case
        refused_with=ReferenceTaken,
    ),
    Case(
        "admit_provider",
        COMMISSIONER,
        lambda w: AdmitProvider(w.contract_id, org="zorg-c", name="Zorg C", rationale="capacity"),
        View.CONTRACT,
        refused=lambda w: AdmitProvider(
            w.contract_id, org=COMMISSIONER.org, name="Ourselves", rationale="why not"
        ),
        refused_with=InvalidValue,
    ),
    Case(
        "withdraw_provider",
        COMMISSIONER,
        lambda w: WithdrawProvider(w.contract_id, org=SECOND_PROVIDER, reason="moved away"),
        View.CONTRACT,
        refused=lambda w: WithdrawProvider(w.contract_id, org="zorg-x", reason="never came"),
        refused_with=UnknownProvider,
    ),
    Case(
        "register_stakeholder",
        PROVIDER,
        lambda w: RegisterStakeholder(w.contract_id, name="Wijkraad Oost", kind="residents"),
        View.STAKEHOLDER,
        refused=lambda w: RegisterStakeholder(w.contract_id, name="  ", kind="residents"),
        refused_with=InvalidValue,
    ),
]
ON_A_CONTRACT = [case for case in CASES if case.id != "open_contract"]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_refusal_stores_nothing(checks: Checks, case: Case) -> None:
    checks.refusal_stores_nothing(case)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_repeat_under_the_same_key_is_answered_once(checks: Checks, case: Case) -> None:
    checks.repeat_is_answered_once(case)


@pytest.mark.parametrize("case", ON_A_CONTRACT, ids=lambda case: case.id)
def test_a_stale_version_is_refused(checks: Checks, case: Case) -> None:
    checks.stale_version_is_refused(case)


def test_opening_makes_the_callers_organisation_commissioner_of_a_draft(
    service: ContractService,
) -> None:
    result = service.handle(COMMISSIONER, opening("WMO-2025-01"), view=View.CONTRACT)
    assert result.version == 1 and result.created_id is None
    assert isinstance(result.view.body, ContractState)
    assert result.view.body.commissioner.org == COMMISSIONER.org
    assert result.view.body.status == "draft"
    assert service.contract_state(COMMISSIONER, result.contract_id) == result.view.body


def test_only_a_contract_manager_opens_a_contract(service: ContractService) -> None:
    with pytest.raises(NotPermitted):
        service.handle(READER, opening("WMO-2025-01"))
    assert stored(service) == []


def test_an_admitted_provider_is_invited_and_becomes_a_party_when_it_accepts(
    world: World,
) -> None:
    outsider_org = OUTSIDER.org
    world.service.handle(
        COMMISSIONER,
        AdmitProvider(world.contract_id, org=outsider_org, name="Verzekeraar", rationale="r"),
    )
    contract = world.service.get_contract(OUTSIDER, world.contract_id)
    assert outsider_org in {p.org for p in contract.providers if p.status == "invited"}
    world.service.handle(OUTSIDER, AcceptInvitation(world.contract_id, org=OUTSIDER.org))
    contract = world.service.get_contract(OUTSIDER, world.contract_id)
    assert outsider_org in {p.org for p in contract.providers if p.status == "active"}


def test_an_invitation_declined_leaves_the_contract_out_of_sight(world: World) -> None:
    world.service.handle(
        COMMISSIONER,
        AdmitProvider(world.contract_id, org=OUTSIDER.org, name="Verzekeraar", rationale="r"),
    )
    world.service.handle(
        OUTSIDER, DeclineInvitation(world.contract_id, org=OUTSIDER.org, reason="no capacity")
    )
    with pytest.raises(ContractNotFound):
        world.service.get_contract(OUTSIDER, world.contract_id)


def test_an_outside_auditor_reads_through_a_grant_until_it_is_revoked(world: World) -> None:
    auditor = people.RIA.principal
    with pytest.raises(ContractNotFound):
        world.service.get_contract(auditor, world.contract_id)
    grant = world.service.handle(
        COMMISSIONER,
        GrantAccess(world.contract_id, org=auditor.org, role="auditor", reason="onderzoek inkoop"),
    )
    assert world.service.get_contract(auditor, world.contract_id).reference
    assert world.service.history(auditor, world.contract_id).items
    assert world.service.verify(auditor, world.contract_id).valid
    with pytest.raises(NotPermitted):
        world.service.handle(
            auditor, RegisterStakeholder(world.contract_id, name="GGD", kind="health")
        )
    world.service.handle(
        COMMISSIONER, RevokeAccess(world.contract_id, grant_id=grant.created_id, reason="klaar")
    )
    with pytest.raises(ContractNotFound):
        world.service.get_contract(auditor, world.contract_id)


def test_a_reader_grant_reads_the_contract_but_not_its_history(world: World) -> None:
    reader = people.ROB.principal
    world.service.handle(
        COMMISSIONER,
        GrantAccess(world.contract_id, org=reader.org, role="reader", reason="raadsinformatie"),
    )
    assert world.service.get_contract(reader, world.contract_id).reference
    with pytest.raises(NotPermitted):
        world.service.history(reader, world.contract_id)


def test_a_withdrawn_provider_no_longer_counts_as_a_party(world: World) -> None:
    result = world.service.handle(
        COMMISSIONER,
        WithdrawProvider(world.contract_id, org=SECOND_PROVIDER, reason="moved away"),
        view=View.CONTRACT,
    )
    providers = {p.org: p.status for p in result.view.body.providers}
    assert providers[SECOND_PROVIDER] != "active"


def test_a_registered_stakeholder_is_answered_as_the_record_created(world: World) -> None:
    result = world.service.handle(
        PROVIDER,
        RegisterStakeholder(world.contract_id, name="Wijkraad", kind="residents", contact="w@x"),
        view=View.STAKEHOLDER,
    )
    assert result.view.body == StakeholderData(
        stakeholder_id=str(result.created_id), name="Wijkraad", kind="residents", contact="w@x"
    )
    assert result.view.version == result.version
