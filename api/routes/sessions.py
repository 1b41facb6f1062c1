"""Dialogue sessions: where the parties meet and changes are proposed."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import Command, ContractId
from api.responses import COMMAND_ERRORS
from api.schemas import SessionCreate
from application.commands import HoldSession
from application.views import SessionData, View

router = APIRouter(prefix="/contracts/{contractId}", tags=["dialogue"])


@router.post(
    "/sessions",
    status_code=201,
    response_model=SessionData,
    summary="Record a dialogue session",
    description="Changes proposed later name this session (`sessionId`) as where they came from.",
    responses=COMMAND_ERRORS,
)
def hold_session(contract_id: ContractId, body: SessionCreate, command: Command) -> Response:
    hold = HoldSession(
        contract_id,
        held_on=body.held_on,
        kind=body.kind,
        participants=tuple(body.participants_value()),
        minutes_ref=body.minutes_ref,
        summary=body.summary,
    )
    return command.run(hold, View.SESSION, status=201)
