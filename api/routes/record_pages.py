"""The collections that grow with a contract's history, a page at a time: sessions,
measurements, proposals, publications, consultations, evaluations and corrections."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import ContractId, ContractsDep, CurrentPrincipal
from api.http import contract_headers
from api.responses import READ_ERRORS
from api.schemas import MAX_COUNT
from application.views import (
    ConsultationPage,
    CorrectionPage,
    EvaluationPage,
    MeasurementPage,
    ProposalPage,
    PublicationPage,
    SessionPage,
)

router = APIRouter(prefix="/contracts/{contractId}", tags=["contracts"])

After = Annotated[
    int,
    Query(ge=0, le=MAX_COUNT, description="Records after this many (`nextCursor` of the page)"),
]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size")]
Version = Annotated[int | None, Query(ge=1, le=MAX_COUNT, description="At this version")]


def _page(
    contracts: ContractsDep,
    principal: CurrentPrincipal,
    contract_id: str,
    kind: str,
    after: int,
    limit: int,
    version: int | None,
) -> Response:
    page = contracts.collection(
        principal, contract_id, kind, after=after, limit=limit, version=version
    )
    return Response(
        page.body.model_dump_json(by_alias=True).encode(),
        media_type="application/json",
        headers=contract_headers(page.version, page.head_digest),
    )


def _route(kind: str, model: type, what: str) -> None:
    def read(
        contract_id: ContractId,
        principal: CurrentPrincipal,
        contracts: ContractsDep,
        after: After = 0,
        limit: Limit = 50,
        version: Version = None,
    ) -> Response:
        return _page(contracts, principal, contract_id, kind, after, limit, version)

    read.__name__ = f"list_{kind}"
    router.get(
        f"/{kind}",
        response_model=model,
        summary=f"The contract's {what}, oldest first, a page at a time",
        description="Pass `nextCursor` as `after` for the next page; it is null on the last. "
        "`version` reads the collection as it stood at that version.",
        responses=READ_ERRORS,
    )(read)


for _kind, _model, _what in (
    ("sessions", SessionPage, "dialogue sessions"),
    ("measurements", MeasurementPage, "measurements"),
    ("proposals", ProposalPage, "proposals (open and closed)"),
    ("publications", PublicationPage, "publications"),
    ("consultations", ConsultationPage, "residents' consultations"),
    ("evaluations", EvaluationPage, "evaluations"),
    ("corrections", CorrectionPage, "corrections"),
):
    _route(_kind, _model, _what)

__all__ = ["router"]
