"""Transparency: what the contract's parties publish to residents or the council."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import Command, ContractId
from api.responses import COMMAND_ERRORS
from api.schemas import PublicationCreate
from application.commands import IssuePublication
from application.views import PublicationData, View

router = APIRouter(prefix="/contracts/{contractId}", tags=["contracts"])


@router.post(
    "/publications",
    status_code=201,
    response_model=PublicationData,
    summary="Publish information about the contract to residents or the council",
    responses=COMMAND_ERRORS,
)
def issue_publication(
    contract_id: ContractId, body: PublicationCreate, command: Command
) -> Response:
    issue = IssuePublication(
        contract_id,
        effective_on=body.effective_on,
        audience=body.audience,
        channel=body.channel,
        summary=body.summary,
    )
    return command.run(issue, View.PUBLICATION, status=201)
