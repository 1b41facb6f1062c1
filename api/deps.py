"""`Annotated` dependency aliases for route signatures; one place to look them up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, cast

from fastapi import Depends, Header, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.http import run_command
from api.security import CurrentPrincipal
from application.commands import CommandResult, ContractCommand, OpenContract
from application.service import ContractService
from application.views import View
from infrastructure.bootstrap import Services

# The dependencies every request resolves are `async`: FastAPI runs a plain `def` dependency
# in the thread pool, and each such hand-off (there and back) was ~20 % of a GET's CPU in the
# profile (bench/profile.py p2). Nothing in them waits, except building the contract service.


def _services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


async def get_services(request: Request) -> Services:
    return _services(request)


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_contracts(request: Request) -> ContractService:
    """The contract service; built on first use in a worker thread (building may wait for the
    store), then handed out without leaving the event loop."""
    services = _services(request)
    built = services.built_contracts
    if built is not None:
        return built
    return await run_in_threadpool(lambda: services.contracts)


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
OrgId = Annotated[
    str,
    Path(
        alias="org",
        description="An organisation id (lowercase words joined by hyphens)",
        min_length=3,
        max_length=64,
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
    ),
]
GrantId = Annotated[
    str, Path(alias="grantId", description="The access grant's id", min_length=1, max_length=64)
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='Apply the command only if the contract is still at this version, e.g. `"7"`',
        max_length=100,
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="A unique key per intended command (e.g. a UUID); repeats are answered once",
        max_length=200,
    ),
]


class CommandContext:
    """What every command route needs besides its path and body: who calls, the service, and
    the If-Match / Idempotency-Key headers. Declared once, as a dependency."""

    def __init__(
        self,
        principal: CurrentPrincipal,
        contracts: ContractsDep,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> None:
        self.principal = principal
        self.contracts = contracts
        self.if_match = if_match
        self.idempotency_key = idempotency_key

    def run(
        self,
        command: OpenContract | ContractCommand,
        view: View,
        *,
        status: int = 200,
        location: Callable[[CommandResult], str] | None = None,
    ) -> Response:
        return run_command(
            self.contracts,
            self.principal,
            command,
            view,
            if_match=self.if_match,
            idempotency_key=self.idempotency_key,
            status=status,
            location=location,
        )


async def command_context(
    principal: CurrentPrincipal,
    contracts: ContractsDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> CommandContext:
    return CommandContext(principal, contracts, if_match, idempotency_key)


Command = Annotated[CommandContext, Depends(command_context)]

__all__ = [
    "Command",
    "ContractId",
    "ContractsDep",
    "CurrentPrincipal",
    "IdempotencyKey",
    "IfMatch",
    "IndicatorId",
    "ProposalId",
    "ServicesDep",
]
