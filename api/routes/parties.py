"""The parties to a contract: providers invited by the commissioner, who accept or decline
through their own people and may withdraw later, and stakeholders."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import Command, ContractId, OrgId
from api.responses import COMMAND_ERRORS
from api.schemas import AcceptanceBody, ProviderCreate, ReasonBody, StakeholderCreate
from application.commands import (
    AcceptInvitation,
    AdmitProvider,
    DeclineInvitation,
    RegisterStakeholder,
    WithdrawProvider,
)
from application.views import ContractState, StakeholderData, View

router = APIRouter(prefix="/contracts/{contractId}", tags=["contracts"])


@router.post(
    "/providers",
    status_code=201,
    response_model=ContractState,
    summary="Invite a preselected provider (commissioner); it becomes a party when it accepts",
    responses=COMMAND_ERRORS,
)
def admit_provider(contract_id: ContractId, body: ProviderCreate, command: Command) -> Response:
    admit = AdmitProvider(
        contract_id,
        effective_on=body.effective_on,
        org=body.org,
        name=body.name,
        rationale=body.rationale,
    )
    return command.run(admit, View.CONTRACT, status=201)


@router.post(
    "/providers/{org}/acceptance",
    response_model=ContractState,
    summary="Accept your organisation's invitation to the contract (the invited provider)",
    responses=COMMAND_ERRORS,
)
def accept_invitation(
    contract_id: ContractId, org: OrgId, body: AcceptanceBody, command: Command
) -> Response:
    return command.run(
        AcceptInvitation(contract_id, effective_on=body.effective_on, org=org), View.CONTRACT
    )


@router.post(
    "/providers/{org}/refusal",
    response_model=ContractState,
    summary="Decline your organisation's invitation to the contract, saying why",
    responses=COMMAND_ERRORS,
)
def decline_invitation(
    contract_id: ContractId, org: OrgId, body: ReasonBody, command: Command
) -> Response:
    decline = DeclineInvitation(
        contract_id, effective_on=body.effective_on, org=org, reason=body.reason
    )
    return command.run(decline, View.CONTRACT)


@router.post(
    "/providers/{org}/withdrawal",
    response_model=ContractState,
    summary="A provider withdraws (itself, or the commissioner withdraws it or its invitation)",
    responses=COMMAND_ERRORS,
)
def withdraw_provider(
    contract_id: ContractId, org: OrgId, body: ReasonBody, command: Command
) -> Response:
    return command.run(
        WithdrawProvider(contract_id, effective_on=body.effective_on, org=org, reason=body.reason),
        View.CONTRACT,
    )


@router.post(
    "/stakeholders",
    status_code=201,
    response_model=StakeholderData,
    summary="Register a stakeholder (involved without a vote)",
    responses=COMMAND_ERRORS,
)
def register_stakeholder(
    contract_id: ContractId, body: StakeholderCreate, command: Command
) -> Response:
    register = RegisterStakeholder(
        contract_id,
        effective_on=body.effective_on,
        name=body.name,
        kind=body.kind,
        contact=body.contact,
    )
    return command.run(register, View.STAKEHOLDER, status=201)
