"""For auditors and contract managers: a contract's evidence bundle and dossier
(docs/EVIDENCE.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import ContractId, ContractsDep, ServicesDep
from api.responses import READ_ERRORS, _problem
from api.schemas import MAX_COUNT
from api.security import CurrentPrincipal
from infrastructure.pdf import pdf_of

router = APIRouter(prefix="/contracts/{contractId}", tags=["audit"])


@router.get(
    "/export",
    summary="The contract's evidence bundle: events as stored, signed checkpoint, proofs, verifier",
    description="A zip an auditor can check years later without this service: every stored "
    "event (JSONL, the stored bytes), a checkpoint signed for the export, an inclusion proof "
    "per event, consistency proofs from earlier checkpoints, the log's key and `verify.py` "
    "(Python 3.11 + `cryptography`). For the contract's auditors and contract managers.",
    response_class=Response,
    responses={
        200: {"description": "The bundle", "content": {"application/zip": {"schema": {}}}},
        409: _problem("The stored log no longer extends the last checkpoint signed: tampering"),
        **READ_ERRORS,
    },
)
def export(
    contract_id: ContractId,
    principal: CurrentPrincipal,
    contracts: ContractsDep,
    services: ServicesDep,
    from_size: Annotated[
        int | None,
        Query(
            alias="fromSize",
            ge=1,
            le=MAX_COUNT,
            description="The size of a checkpoint you kept: the bundle proves consistency from it",
        ),
    ] = None,
) -> Response:
    sizes = (from_size,) if from_size is not None else ()
    bundle = contracts.export_bundle(principal, contract_id, services.checkpoints, sizes)
    return Response(
        bundle,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="dialoog-{contract_id}.zip"'},
    )


@router.get(
    "/dossier.pdf",
    summary="The auditor's dossier (PDF, in Dutch)",
    description="The timeline, every agreed change with its consents and session, money "
    "against the ceiling and the modification limit, indicators against their targets, and "
    "the verification result with the signed checkpoint it was checked against. For the "
    "contract's auditors and contract managers.",
    response_class=Response,
    responses={
        200: {"description": "The dossier", "content": {"application/pdf": {"schema": {}}}},
        409: _problem("The stored log no longer extends the last checkpoint signed: tampering"),
        **READ_ERRORS,
    },
)
def dossier(
    contract_id: ContractId,
    principal: CurrentPrincipal,
    contracts: ContractsDep,
    services: ServicesDep,
) -> Response:
    html = contracts.dossier(principal, contract_id, services.checkpoints)
    return Response(
        pdf_of(html),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="dossier-{contract_id}.pdf"'},
    )
