"""Open data, without a token: every disclosed contract as OCDS 1.1.5 release and record
packages, and all public releases in order for harvesters (docs/INTEGRATION.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import ContractId, ServicesDep
from api.responses import PROBLEM_MEDIA_TYPE, Problem
from application.ocds import record_package, release_package, to_json
from application.open_data import MAX_LIMIT, contract_releases, public_releases

router = APIRouter(prefix="/public", tags=["open data"])

OCDS_JSON = "application/json"
_PACKAGE = {"type": "object", "additionalProperties": True}
PUBLIC_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {
        "description": "No such contract, or one its commissioner has not made public",
        "model": Problem,
        "content": {PROBLEM_MEDIA_TYPE: {}},
    },
    503: {
        "description": "The event store is unavailable",
        "model": Problem,
        "content": {PROBLEM_MEDIA_TYPE: {}},
    },
}


def _ocds(description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {OCDS_JSON: {"schema": _PACKAGE}}}}


@router.get(
    "/contracts/{contractId}/ocds/releases",
    summary="A public contract's OCDS release package",
    description="One release per public fact that changed the contract: the opening "
    "(`contract`), each agreed change (`contractAmendment`), measurements "
    "(`implementationUpdate`), the end (`contractTermination`) and other public changes "
    "(`contractUpdate`); indicators as metrics (OCDS metrics extension). No token needed.",
    response_class=Response,
    responses={**_ocds("An OCDS 1.1 release package"), **PUBLIC_ERRORS},
    openapi_extra={"security": []},
)
def contract_release_package(
    contract_id: ContractId, request: Request, services: ServicesDep
) -> Response:
    settings = services.settings
    found = contract_releases(services.contracts, contract_id, settings.ocid_prefix)
    package = release_package(found, str(request.url), settings.ocds_publisher)
    return Response(to_json(package), media_type=OCDS_JSON)


@router.get(
    "/contracts/{contractId}/ocds/record",
    summary="A public contract's OCDS record package (compiled and versioned release)",
    response_class=Response,
    responses={**_ocds("An OCDS 1.1 record package"), **PUBLIC_ERRORS},
    openapi_extra={"security": []},
)
def contract_record_package(
    contract_id: ContractId, request: Request, services: ServicesDep
) -> Response:
    settings = services.settings
    found = contract_releases(services.contracts, contract_id, settings.ocid_prefix)
    releases_uri = str(request.url_for("contract_release_package", contractId=contract_id))
    package = record_package(found, str(request.url), releases_uri, settings.ocds_publisher)
    return Response(to_json(package), media_type=OCDS_JSON)


@router.get(
    "/ocds/releases",
    summary="Every public release, in the order it was recorded (for harvesters)",
    description="A release package of the releases of every contract public now, after a "
    "position; `links.next` reads on (also when nothing new has come yet: poll it).",
    response_class=Response,
    responses={**_ocds("An OCDS 1.1 release package with `links.next`"), **PUBLIC_ERRORS},
    openapi_extra={"security": []},
)
def harvest(
    request: Request,
    services: ServicesDep,
    after: Annotated[
        int, Query(ge=0, le=2**63 - 1, description="Releases after this position")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = 50,
) -> Response:
    settings = services.settings
    page = public_releases(
        services.contracts, after=after, limit=limit, prefix=settings.ocid_prefix
    )
    package = release_package(page.releases, str(request.url), settings.ocds_publisher)
    package["links"] = {
        "next": str(request.url.include_query_params(after=page.next_cursor, limit=limit))
    }
    return Response(to_json(package), media_type=OCDS_JSON)
