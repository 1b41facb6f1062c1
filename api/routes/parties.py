"""The parties to a contract: providers admitted by the commissioner, and stakeholders."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import Command, ContractId
from api.responses import COMMAND_ERRORS
from api.schemas import ProviderCreate, StakeholderCreate
from application.commands import AdmitProvider, RegisterStakeholder
from application.views import ContractData, StakeholderData, View

router = APIRouter(prefix="/contracts/{contractId}", tags=["contracts"])


@router.post(
    "/providers",
    status_code=201,
    response_model=ContractData,
    summary="Admit a preselected provider (commissioner)",
    responses=COMMAND_ERRORS,
)
def admit_provider(contract_id: ContractId, body: ProviderCreate, command: Command) -> Response:
    admit = AdmitProvider(contract_id, org=body.org, name=body.name, rationale=body.rationale)
    return command.run(admit, View.CONTRACT, status=201)


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
        contract_id, name=body.name, kind=body.kind, contact=body.contact
    )
    return command.run(register, View.STAKEHOLDER, status=201)
