"""Contracts: open, list, read (now, at a version, as of a moment, in force on a date), parties,
transparency and the lifecycle."""

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

from api.deps import ContractId, ContractsDep
from api.http import Command, IdempotencyKey, respond, run_command
from api.responses import COMMAND_ERRORS, READ_ERRORS, ContractPage, ContractSummaryOut
from api.schemas import (
    CONTROL_CHARACTERS,
    MAX_COUNT,
    ContractCreate,
    OptionalReasonBody,
    ProviderCreate,
    PublicationCreate,
    ReasonBody,
    StakeholderCreate,
)
from api.security import CurrentPrincipal
from application.dto import (
    CONTRACT_VIEW,
    PUBLICATION_VIEW,
    STAKEHOLDER_VIEW,
    ContractData,
    PublicationData,
    StakeholderData,
    Viewed,
)
from application.errors import InvalidQuery
from application.read_models import SummaryFilter
from domain.values import ContractStatus

router = APIRouter(prefix="/contracts", tags=["contracts"])


@router.post(
    "",
    status_code=201,
    response_model=ContractData,
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
    return run_command(
        contracts,
        principal,
        lambda **options: contracts.open_contract(
            principal,
            reference=body.reference,
            title=body.title,
            assignment=body.assignment,
            procedure=body.procedure,
            term=body.term.value(),
            ceiling=Decimal(body.financial_framework.ceiling),
            budget_period=body.financial_framework.period.value(),
            **options,
        ),
        CONTRACT_VIEW,
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
    response_model=ContractData,
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
        date | None, Query(alias="inForceOn", description="As in force on this date, known now")
    ] = None,
) -> Response:
    data = contracts.get_contract(
        principal, contract_id, version=version, as_of=as_of, in_force_on=in_force_on
    )
    return respond(Viewed(data.version, data.head_digest, data))


@router.post(
    "/{contractId}/providers",
    status_code=201,
    response_model=ContractData,
    summary="Admit a preselected provider (commissioner)",
    responses=COMMAND_ERRORS,
)
def admit_provider(contract_id: ContractId, body: ProviderCreate, command: Command) -> Response:
    return command.run(
        lambda **o: command.contracts.admit_provider(
            command.principal,
            contract_id,
            org=body.org,
            name=body.name,
            rationale=body.rationale,
            **o,
        ),
        CONTRACT_VIEW,
        status=201,
    )


@router.post(
    "/{contractId}/stakeholders",
    status_code=201,
    response_model=StakeholderData,
    summary="Register a stakeholder (involved without a vote)",
    responses=COMMAND_ERRORS,
)
def register_stakeholder(
    contract_id: ContractId, body: StakeholderCreate, command: Command
) -> Response:
    return command.run(
        lambda **o: command.contracts.register_stakeholder(
            command.principal,
            contract_id,
            name=body.name,
            kind=body.kind,
            contact=body.contact,
            **o,
        ),
        STAKEHOLDER_VIEW,
        status=201,
    )


@router.post(
    "/{contractId}/publications",
    status_code=201,
    response_model=PublicationData,
    summary="Publish information about the contract to residents or the council",
    responses=COMMAND_ERRORS,
)
def issue_publication(
    contract_id: ContractId, body: PublicationCreate, command: Command
) -> Response:
    return command.run(
        lambda **o: command.contracts.issue_publication(
            command.principal,
            contract_id,
            audience=body.audience,
            channel=body.channel,
            summary=body.summary,
            **o,
        ),
        PUBLICATION_VIEW,
        status=201,
    )


def _lifecycle(transition: str, summary: str, reason_required: bool) -> None:
    body_type = ReasonBody if reason_required else OptionalReasonBody
    path = {
        "activate": "activation",
        "suspend": "suspension",
        "resume": "resumption",
        "terminate": "termination",
        "complete": "completion",
    }[transition]

    def change_status(
        contract_id: ContractId,
        body: body_type,  # type: ignore[valid-type]
        command: Command,
    ) -> Response:
        return command.run(
            lambda **o: command.contracts.change_status(
                command.principal,
                contract_id,
                transition,
                reason=body.reason,  # type: ignore[attr-defined]
                decision_ref=getattr(body, "decision_ref", None),
                **o,
            ),
            CONTRACT_VIEW,
        )

    change_status.__name__ = transition
    # Annotations are strings here (PEP 563); the body type is local, so resolve it by hand.
    change_status.__annotations__["body"] = body_type
    router.post(
        f"/{{contractId}}/{path}",
        response_model=ContractData,
        summary=summary,
        responses=COMMAND_ERRORS,
        operation_id=f"{transition}Contract",
    )(change_status)


_lifecycle("activate", "Start delivery and dialogue: draft → active (commissioner)", False)
_lifecycle("suspend", "Suspend an active contract (commissioner)", True)
_lifecycle("resume", "Resume a suspended contract (commissioner)", True)
_lifecycle("terminate", "Terminate the contract early, stating the ground (commissioner)", True)
_lifecycle("complete", "Complete the contract at the end of its term (commissioner)", True)


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
