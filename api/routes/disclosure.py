"""Openness (Woo active disclosure): the commissioner makes a contract public, or withdraws
that; what is then public is decided by application/publicity.py."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import Command, ContractId
from api.responses import COMMAND_ERRORS
from api.schemas import ReasonBody
from application.commands import DiscloseContract, WithdrawDisclosure
from application.views import ContractState, View

router = APIRouter(prefix="/contracts/{contractId}/disclosure", tags=["contracts"])


@router.post(
    "",
    response_model=ContractState,
    summary="Make the contract public (commissioner)",
    description="Its public part — assignment, goals, indicators and progress, money, agreed "
    "changes and publications, never names, minutes or open or rejected proposals — is then "
    "open data (`/public/contracts/{contractId}/ocds/...`). `public` shows it on the contract.",
    responses=COMMAND_ERRORS,
    operation_id="discloseContract",
)
def disclose(contract_id: ContractId, body: ReasonBody, command: Command) -> Response:
    return command.run(DiscloseContract(contract_id, reason=body.reason), View.CONTRACT)


@router.post(
    "/withdrawal",
    response_model=ContractState,
    summary="Withdraw the disclosure: the contract is no longer public (commissioner)",
    responses=COMMAND_ERRORS,
    operation_id="withdrawDisclosure",
)
def withdraw(contract_id: ContractId, body: ReasonBody, command: Command) -> Response:
    return command.run(WithdrawDisclosure(contract_id, reason=body.reason), View.CONTRACT)
