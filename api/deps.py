"""`Annotated` dependency aliases for route signatures; one place to look them up."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Path, Request

from application.service import ContractService
from infrastructure.bootstrap import Services


def get_services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]


def get_contracts(request: Request) -> ContractService:
    return get_services(request).contracts


ContractsDep = Annotated[ContractService, Depends(get_contracts)]

ContractId = Annotated[
    str,
    Path(
        alias="contractId",
        description="The contract's id (32 hexadecimal characters)",
        min_length=32,
        max_length=32,
        pattern=r"^[0-9a-f]{32}$",
    ),
]
ProposalId = Annotated[
    str, Path(alias="proposalId", description="The proposal's id", min_length=1, max_length=64)
]
IndicatorId = Annotated[
    str, Path(alias="indicatorId", description="The indicator's id", min_length=1, max_length=64)
]
