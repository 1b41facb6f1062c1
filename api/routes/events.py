"""The change feed: every contract event the caller may see, in commit order, as pages and as
Server-Sent Events (issue 15)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated, Any

import anyio.to_thread
import jwt
import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from api.deps import ContractsDep, CurrentPrincipal, ServicesDep
from api.problems import problem
from api.responses import PROBLEM_MEDIA_TYPE, READ_ERRORS, Problem
from api.streams import EventStreams
from application.errors import InvalidQuery
from application.feed import MAX_LIMIT, FeedPage, FeedQuery, checked, feed_head, feed_page

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
) -> Response:
    query = FeedQuery(after=after, limit=limit, contract_id=contract_id, types=tuple(types or ()))
    page = feed_page(contracts, principal, query, services.settings.event_source)
    return Response(page.to_json(), media_type="application/json")  # shaped as FeedPage


LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        max_length=20,
        description="The `id` of the last event received: the stream resumes after it",
    ),
]
STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A stream of CloudEvents: each SSE `id` is the event's position and its "
        "`data` the CloudEvent as JSON; a comment line every 15 s keeps the connection open",
        "content": {"text/event-stream": {"schema": {"type": "string", "maxLength": 1_000_000}}},
    },
    **READ_ERRORS,
    503: {
        "description": "This worker has as many open streams as it allows (see Retry-After), "
        "or the event store is unavailable",
        "model": Problem,
        "content": {PROBLEM_MEDIA_TYPE: {}},
    },
}
#: Seconds a client refused a stream waits before trying again.
RETRY_AFTER_SECONDS = 10


@router.get(
    "/stream",
    summary="The change feed as Server-Sent Events, as events are committed",
    description="The events of the feed (`GET /events`, same filters) pushed as they are "
    "committed. Without `Last-Event-ID` or `after` the stream starts with events committed from "
    "now on; a reconnect with `Last-Event-ID` resumes without gaps or repeats. The bearer token "
    "goes in the Authorization header, never in the query string. Each worker keeps a bounded "
    "number of streams open; beyond it the answer is 503 with Retry-After.",
    response_class=Response,
    responses=STREAM_RESPONSES,
)
async def stream_feed(
    request: Request,
    principal: CurrentPrincipal,
    services: ServicesDep,
    last_event_id: LastEventId = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=2**63 - 1, description="Start after this position (else: from now on)"),
    ] = None,
    contract_id: ContractQuery = None,
    types: TypeQuery = None,
) -> Response:
    streams: EventStreams = request.app.state.streams
    contracts = services.contracts
    settings = services.settings
    start = _resume_position(last_event_id, after)
    query = FeedQuery(
        after=start or 0, limit=100, contract_id=contract_id, types=tuple(types or ())
    )
    await anyio.to_thread.run_sync(checked, contracts, principal, query)
    slot = streams.slots.take()
    if slot is None:
        return problem(
            503,
            "too-many-streams",
            "Too many open event streams",
            "This worker has as many open event streams as it allows; try again shortly.",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if start is None:
        start = await anyio.to_thread.run_sync(feed_head, contracts)

    expires_at = _token_expires_at(request)

    async def events() -> AsyncIterator[ServerSentEvent]:
        cursor = start
        try:
            while True:
                if expires_at is not None and time.time() >= expires_at:
                    return  # the token expired: the client reconnects with a fresh one
                if await streams.watch.head() > cursor:
                    page = await anyio.to_thread.run_sync(
                        feed_page,
                        contracts,
                        principal,
                        replace(query, after=cursor),
                        settings.event_source,
                    )
                    for item in page.items:
                        yield ServerSentEvent(data=orjson.dumps(item).decode(), id=item["sequence"])
                    cursor = page.next_cursor
                    if page.items:
                        continue
                await anyio.sleep(streams.watch.poll_seconds)
        finally:
            slot.release()

    return EventSourceResponse(
        events(), ping=settings.sse_heartbeat_seconds, background=BackgroundTask(slot.release)
    )


def _resume_position(last_event_id: str | None, after: int | None) -> int | None:
    if last_event_id is None:
        return after
    if not last_event_id.isdigit():
        raise InvalidQuery("Last-Event-ID must be the id of an event this stream sent")
    return int(last_event_id)


def _token_expires_at(request: Request) -> float | None:
    """When the bearer token (verified already by `CurrentPrincipal`) expires."""
    _, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        claims = jwt.decode(token.strip(), options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    expires = claims.get("exp")
    return float(expires) if isinstance(expires, int | float) else None
