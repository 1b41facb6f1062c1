"""For auditors: the history page by page, differences in words, and chain verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from api.deps import ContractId, ContractsDep, CurrentPrincipal
from api.responses import READ_ERRORS
from api.schemas import MAX_COUNT
from application.diff import language_of
from application.views import DiffData, HistoryPage, VerificationData

router = APIRouter(prefix="/contracts/{contractId}", tags=["audit"])


@router.get(
    "/history",
    response_model=HistoryPage,
    summary="The contract's events, oldest first, a page at a time",
    description="Pass `nextCursor` as `after` to read the next page; it is null on the last. "
    "Each event carries its digest and the digest of the event before it.",
    responses=READ_ERRORS,
)
def history(
    contract_id: ContractId,
    principal: CurrentPrincipal,
    contracts: ContractsDep,
    after: Annotated[int, Query(ge=0, le=MAX_COUNT, description="Events after this version")] = 0,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size")] = 50,
) -> HistoryPage:
    return contracts.history(principal, contract_id, after=after, limit=limit)


@router.get(
    "/diff",
    response_model=DiffData,
    summary="What changed between two versions, in words a council member understands",
    responses=READ_ERRORS,
)
def diff(
    contract_id: ContractId,
    principal: CurrentPrincipal,
    contracts: ContractsDep,
    from_version: Annotated[
        int, Query(alias="from", ge=1, le=MAX_COUNT, description="Earlier version")
    ],
    to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_COUNT, description="Later version")],
    accept_language: Annotated[
        str | None,
        Header(
            max_length=200,
            description="`nl` (the default) or `en`: the language of the summaries",
        ),
    ] = None,
) -> Response:
    language = language_of(accept_language)
    data = contracts.diff(
        principal,
        contract_id,
        from_version=from_version,
        to_version=to_version,
        language=language,
    )
    return Response(
        data.model_dump_json(by_alias=True).encode(),
        media_type="application/json",
        headers={"Content-Language": language, "Vary": "Accept-Language"},
    )


@router.get(
    "/verification",
    response_model=VerificationData,
    summary="Recompute every digest of the stored history and check the chain",
    responses=READ_ERRORS,
)
def verification(
    contract_id: ContractId,
    principal: CurrentPrincipal,
    contracts: ContractsDep,
    snapshots: Annotated[
        bool, Query(description="Also check every snapshot's seal (reads whole snapshots)")
    ] = False,
) -> VerificationData:
    return contracts.verify(principal, contract_id, snapshots=snapshots)
