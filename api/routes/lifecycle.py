"""The contract's lifecycle, one route per step: draft → active ⇄ suspended → terminated or
completed. Only the commissioner takes these steps."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import Command, ContractId
from api.responses import COMMAND_ERRORS
from api.schemas import LifecycleStep, OptionalReasonBody
from application.commands import (
    ActivateContract,
    CompleteContract,
    ResumeContract,
    SuspendContract,
    TerminateContract,
)
from application.views import ContractState, View

router = APIRouter(prefix="/contracts/{contractId}", tags=["contracts"])


@router.post(
    "/activation",
    response_model=ContractState,
    summary="Start delivery and dialogue: draft → active (commissioner)",
    responses=COMMAND_ERRORS,
    operation_id="activateContract",
)
def activate(contract_id: ContractId, body: OptionalReasonBody, command: Command) -> Response:
    step = ActivateContract(
        contract_id,
        effective_on=body.effective_on,
        reason=body.reason,
        decision_ref=body.decision_ref,
    )
    return command.run(step, View.CONTRACT)


@router.post(
    "/suspension",
    response_model=ContractState,
    summary="Suspend an active contract (commissioner)",
    responses=COMMAND_ERRORS,
    operation_id="suspendContract",
)
def suspend(contract_id: ContractId, body: LifecycleStep, command: Command) -> Response:
    step = SuspendContract(
        contract_id,
        effective_on=body.effective_on,
        reason=body.reason,
        decision_ref=body.decision_ref,
    )
    return command.run(step, View.CONTRACT)


@router.post(
    "/resumption",
    response_model=ContractState,
    summary="Resume a suspended contract (commissioner)",
    responses=COMMAND_ERRORS,
    operation_id="resumeContract",
)
def resume(contract_id: ContractId, body: LifecycleStep, command: Command) -> Response:
    step = ResumeContract(
        contract_id,
        effective_on=body.effective_on,
        reason=body.reason,
        decision_ref=body.decision_ref,
    )
    return command.run(step, View.CONTRACT)


@router.post(
    "/termination",
    response_model=ContractState,
    summary="Terminate the contract early, stating the ground (commissioner)",
    responses=COMMAND_ERRORS,
    operation_id="terminateContract",
)
def terminate(contract_id: ContractId, body: LifecycleStep, command: Command) -> Response:
    step = TerminateContract(
        contract_id,
        effective_on=body.effective_on,
        reason=body.reason,
        decision_ref=body.decision_ref,
    )
    return command.run(step, View.CONTRACT)


@router.post(
    "/completion",
    response_model=ContractState,
    summary="Complete the contract at the end of its term (commissioner)",
    responses=COMMAND_ERRORS,
    operation_id="completeContract",
)
def complete(contract_id: ContractId, body: LifecycleStep, command: Command) -> Response:
    step = CompleteContract(
        contract_id,
        effective_on=body.effective_on,
        reason=body.reason,
        decision_ref=body.decision_ref,
    )
    return command.run(step, View.CONTRACT)
