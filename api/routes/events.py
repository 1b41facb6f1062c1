"""The change feed: every contract event the caller may see, in commit order (issue 15)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ContractsDep, CurrentPrincipal, ServicesDep
from api.responses import READ_ERRORS
from application.feed import MAX_LIMIT, FeedPage, FeedQuery, feed_page

router = APIRouter(prefix="/events", tags=["events"])

AfterQuery = Annotated[
    int,
    Query(ge=0, le=2**63 - 1, description="Events after this position (`nextCursor`, `sequence`)"),
]
ContractQuery = Annotated[
    str | None,
    Query(
        alias="contractId",
        description="Only this contract's events",
        min_length=32,
        max_length=32,
        pattern=r"^[0-9a-f]{32}$",
    ),
]
TypeQuery = Annotated[
    list[str] | None,
    Query(
        alias="type",
        max_length=40,
        description="Only events of these types (repeat the parameter), e.g. "
        "`nl.dialoog.contract.proposal-agreed`",
    ),
]


@router.get(
    "",
    response_model=FeedPage,
    summary="The change feed: contract events in commit order, as CloudEvents",
    description="Every event of every contract your organisation may see (as a party, or while "
    "an access grant holds), oldest first, each a CloudEvents 1.0 object (NL GOV profile) whose "
    "`sequence` is its position. Pass `nextCursor` as `after` to read on: a reader that does "
    "so sees every event exactly once, in order. Positions have gaps.",
    responses=READ_ERRORS,
)
def read_feed(
    principal: CurrentPrincipal,
    contracts: ContractsDep,
    services: ServicesDep,
    after: AfterQuery = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = 100,
    contract_id: ContractQuery = None,
    types: TypeQuery = None,
) -> FeedPage:
    query = FeedQuery(after=after, limit=limit, contract_id=contract_id, types=tuple(types or ()))
    return feed_page(contracts, principal, query, services.settings.event_source)
