"""Contracts: open, list, and read (now, at a version, as of a moment, in force on a date)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import AwareDatetime

from api.deps import ContractId, ContractsDep, CurrentPrincipal, IdempotencyKey
from api.http import respond, run_command
from api.responses import COMMAND_ERRORS, READ_ERRORS, ContractPage, ContractSummaryOut
from api.schemas import CONTROL_CHARACTERS, MAX_COUNT, ContractCreate
from application.commands import OpenContract
from application.errors import InvalidQuery
from application.read_models import SummaryFilter
from application.views import ContractState, View, Viewed
from domain.values import ContractStatus

router = APIRouter(prefix="/contracts", tags=["contracts"])


@router.post(
    "",
    status_code=201,
    response_model=ContractState,
    summary="Open a contract",
    description="The caller's organisation becomes the commissioner of a new contract in "
    "`draft`, inside a financial framework and with a global assignment.",
    responses=COMMAND_ERRORS,
)
def open_contract(
    body: ContractCreate,
    principal: CurrentPrincipal,
    contracts: ContractsDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    command = OpenContract(
        effective_on=body.effective_on,
        reference=body.reference,
        title=body.title,
        assignment=body.assignment,
        procedure=body.procedure,
        term=body.term.value(),
        ceiling=Decimal(body.financial_framework.ceiling),
        budget_period=body.financial_framework.period.value(),
    )
    return run_command(
        contracts,
        principal,
        command,
        View.CONTRACT,
        idempotency_key=idempotency_key,
        status=201,
        location=lambda result: f"/api/v1/contracts/{result.contract_id}",
    )


@router.get(
    "",
    response_model=ContractPage,
    summary="List the contracts your organisation is party to",
    responses=READ_ERRORS,
)
def list_contracts(
    principal: CurrentPrincipal,
    contracts: ContractsDep,
    status: Annotated[ContractStatus | None, Query(description="Only this status")] = None,
    q: Annotated[
        str | None, Query(max_length=100, description="Text in the reference or title")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=400, description="`nextCursor` of the previous page")
    ] = None,
) -> ContractPage:
    if q is not None and CONTROL_CHARACTERS.search(q):
        raise InvalidQuery("q must not contain control characters")
    after = _decode_cursor(cursor) if cursor else None
    rows = contracts.list_contracts(
        principal,
        SummaryFilter(status=status.value if status else None, text=q, after=after, limit=limit),
    )
    next_cursor = (
        _encode_cursor(rows[-1].reference, rows[-1].contract_id) if len(rows) == limit else None
    )
    return ContractPage(items=[ContractSummaryOut.of(row) for row in rows], next_cursor=next_cursor)


@router.get(
    "/{contractId}",
    response_model=ContractState,
    summary="Read a contract: now, at a version, as recorded at a moment, or in force on a date",
    responses=READ_ERRORS,
)
def get_contract(
    contract_id: ContractId,
    principal: CurrentPrincipal,
    contracts: ContractsDep,
    version: Annotated[
        int | None, Query(ge=1, le=MAX_COUNT, description="The contract at this version")
    ] = None,
    as_of: Annotated[
        AwareDatetime | None,
        Query(alias="asOf", description="As recorded at this moment (RFC 3339 with offset)"),
    ] = None,
    in_force_on: Annotated[
        date | None,
        Query(
            alias="inForceOn",
            description="As in force on this date, as known now: every fact recorded so far "
            "that took effect on or before it (404 not-in-force before the opening)",
        ),
    ] = None,
) -> Response:
    if version is None and as_of is None and in_force_on is None:
        return respond(contracts.contract_state_json(principal, contract_id))
    data = contracts.contract_state(
        principal, contract_id, version=version, as_of=as_of, in_force_on=in_force_on
    )
    if as_of is None and in_force_on is None:
        return respond(Viewed(data.version, data.head_digest, data))
    # A time-travel read is a view, not a version: no ETag a client could send back in If-Match
    # as if it were one; `Contract-Version` names the version it stands on.
    query = f"asOf={as_of.isoformat()}" if as_of is not None else f"inForceOn={in_force_on}"
    return Response(
        data.model_dump_json(by_alias=True).encode(),
        media_type="application/json",
        headers={
            "Contract-Version": str(data.version),
            "Contract-Digest": f"sha-256={data.head_digest}",
            "ETag": f'W/"{query};version={data.version}"',
        },
    )


def _encode_cursor(reference: str, contract_id: str) -> str:
    raw = json.dumps([reference, contract_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        reference, contract_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidQuery("cursor is not a value this API gave out") from None
    if not isinstance(reference, str) or not isinstance(contract_id, str):
        raise InvalidQuery("cursor is not a value this API gave out")
    if CONTROL_CHARACTERS.search(reference + contract_id):
        raise InvalidQuery("cursor is not a value this API gave out")
    return reference, contract_id


__all__ = ["router"]
