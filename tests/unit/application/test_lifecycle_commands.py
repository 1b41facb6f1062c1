"""The lifecycle, one command per step: ActivateContract, SuspendContract, ResumeContract,
TerminateContract, CompleteContract — on the in-memory store."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from application.commands import (
    AcceptInvitation,
    ActivateContract,
    AdmitProvider,
    CompleteContract,
    ContractCommand,
    ResumeContract,
    SuspendContract,
    TerminateContract,
    lifecycle_step,
)
from application.errors import InvalidQuery
from application.service import ContractService
from application.views import View
from domain.errors import CommissionerOnly, InvalidTransition, InvalidValue, NoProviders
from tests.support.app import COMMISSIONER, PROVIDER, open_contract
from tests.support.use_cases import Case, Checks, World, build_world

#: the state each step starts from, and the step
STEPS = [
    (
        "draft",
        Case(
            "activate",
            COMMISSIONER,
            lambda w: ActivateContract(w.contract_id, reason="start of delivery"),
            View.CONTRACT,
            refused=lambda w: ActivateContract(w.contract_id),
            refused_with=CommissionerOnly,
            refused_by=PROVIDER,
        ),
    ),
    (
        "active",
        Case(
            "suspend",
            COMMISSIONER,
            lambda w: SuspendContract(w.contract_id, reason="audit", decision_ref="B-12"),
            View.CONTRACT,
            refused=lambda w: SuspendContract(w.contract_id, reason=""),
            refused_with=InvalidValue,
        ),
    ),
    (
        "suspended",
        Case(
            "resume",
            COMMISSIONER,
            lambda w: ResumeContract(w.contract_id, reason="audit done"),
            View.CONTRACT,
            refused=lambda w: ResumeContract(w.contract_id, reason="audit done"),
            refused_with=CommissionerOnly,
            refused_by=PROVIDER,
        ),
    ),
    (
        "active",
        Case(
            "terminate",
            COMMISSIONER,
            lambda w: TerminateContract(w.contract_id, reason="bankrupt", decision_ref="B-13"),
            View.CONTRACT,
            refused=lambda w: TerminateContract(w.contract_id, reason=" "),
            refused_with=InvalidValue,
        ),
    ),
    (
        "active",
        Case(
            "complete",
            COMMISSIONER,
            lambda w: CompleteContract(w.contract_id, reason="delivered", decision_ref="RB-7"),
            View.CONTRACT,
            refused=lambda w: ResumeContract(w.contract_id, reason="not suspended"),
            refused_with=InvalidTransition,
        ),
    ),
]


def world_in(state: str, service: ContractService) -> World:
    if state == "draft":
        contract_id = open_contract(service)
        service.handle(
            COMMISSIONER, AdmitProvider(contract_id, org="zorg-a", name="Zorg A", rationale="fit")
        )
        service.handle(PROVIDER, AcceptInvitation(contract_id, org=PROVIDER.org))
        return World(service, contract_id, "", "", 0, "")
    world = build_world(service)
    if state == "suspended":
        service.handle(COMMISSIONER, SuspendContract(world.contract_id, reason="audit"))
    return world


@pytest.fixture(params=STEPS, ids=lambda step: step[1].id)
def step(request: pytest.FixtureRequest, service: ContractService) -> tuple[Checks, Case]:
    state, case = request.param
    return Checks(world_in(state, service)), case


def test_a_refusal_stores_nothing(step: tuple[Checks, Case]) -> None:
    checks, case = step
    checks.refusal_stores_nothing(case)


def test_a_repeat_under_the_same_key_is_answered_once(step: tuple[Checks, Case]) -> None:
    checks, case = step
    checks.repeat_is_answered_once(case)


def test_a_stale_version_is_refused(step: tuple[Checks, Case]) -> None:
    checks, case = step
    checks.stale_version_is_refused(case)


@pytest.mark.parametrize(
    ("state", "command", "status"),
    [
        ("draft", ActivateContract, "active"),
        ("active", SuspendContract, "suspended"),
        ("suspended", ResumeContract, "active"),
        ("suspended", TerminateContract, "terminated"),
        ("active", CompleteContract, "completed"),
    ],
)
def test_each_step_moves_the_contract_on(
    service: ContractService,
    state: str,
    command: Callable[..., ContractCommand],
    status: str,
) -> None:
    world = world_in(state, service)
    result = service.handle(
        COMMISSIONER,
        command(world.contract_id, reason="decided", decision_ref="RB-2026-12"),
        view=View.CONTRACT,
    )
    assert result.view.body.status == status
    assert service.get_contract(COMMISSIONER, world.contract_id).status == status


def test_a_draft_without_providers_cannot_start(service: ContractService) -> None:
    contract_id = open_contract(service)
    with pytest.raises(NoProviders):
        service.handle(COMMISSIONER, ActivateContract(contract_id))


def test_a_step_is_named_by_its_command_and_nothing_else() -> None:
    assert lifecycle_step("suspend") is SuspendContract
    with pytest.raises(InvalidQuery):
        lifecycle_step("explode")
