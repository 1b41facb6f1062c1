"""Access grants: the commissioner lets an outside organisation (a rekenkamer, an accountant)
read the contract, until a date or until revoked. A grantee never writes or consents."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import Command, ContractId, GrantId
from api.responses import COMMAND_ERRORS
from api.schemas import AccessGrantCreate, ReasonBody
from application.commands import GrantAccess, RevokeAccess
from application.views import AccessGrantData, View

router = APIRouter(prefix="/contracts/{contractId}/access-grants", tags=["contracts"])


@router.post(
    "",
    status_code=201,
    response_model=AccessGrantData,
    summary="Grant an outside organisation read access (commissioner)",
    responses=COMMAND_ERRORS,
)
def grant_access(contract_id: ContractId, body: AccessGrantCreate, command: Command) -> Response:
    grant = GrantAccess(
        contract_id,
        effective_on=body.effective_on,
        org=body.org,
        role=body.role,
        reason=body.reason,
        until=body.until,
    )
    return command.run(grant, View.ACCESS_GRANT, status=201)


@router.post(
    "/{grantId}/revocation",
    response_model=AccessGrantData,
    summary="Revoke an access grant (commissioner)",
    responses=COMMAND_ERRORS,
)
def revoke_access(
    contract_id: ContractId, grant_id: GrantId, body: ReasonBody, command: Command
) -> Response:
    revoke = RevokeAccess(
        contract_id, effective_on=body.effective_on, grant_id=grant_id, reason=body.reason
    )
    return command.run(revoke, View.ACCESS_GRANT)
