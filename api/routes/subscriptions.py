"""Signed webhooks (issue 15, point 3): an organisation subscribes a URL to the change feed; each
event it may see is POSTed there as a CloudEvent, signed as Standard Webhooks
(docs/INTEGRATION.md). Delivery runs in its own thread (infrastructure/webhooks.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from api.deps import ContractsDep, CurrentPrincipal, ServicesDep
from api.responses import READ_ERRORS, Out, _problem
from api.schemas import Body
from application.errors import NotPermitted, SubscriptionNotFound
from application.feed import FeedQuery, checked, feed_head
from application.webhooks import (
    MAX_PAGE,
    Delivery,
    Subscription,
    new_secret,
    only_org,
    sorted_roles,
)
from infrastructure.webhooks import checked_url

router = APIRouter(prefix="/subscriptions", tags=["events"])


class SubscriptionCreate(Body):
    url: str = Field(
        min_length=8,
        max_length=2000,
        description="Where to POST the events: https:// (http://127.0.0.1 or localhost only "
        "where the deployment allows it)",
        examples=["https://dashboard.example.nl/hooks/dialoog"],
    )
    types: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list,
        max_length=40,
        description="Only events of these types (none: every type)",
    )
    contract_id: str | None = Field(
        default=None,
        min_length=32,
        max_length=32,
        pattern=r"^[0-9a-f]{32}$",
        description="Only this contract's events",
    )
    description: str = Field(min_length=1, max_length=500, description="What the hook is for")


class SubscriptionOut(Out):
    id: str
    url: str
    types: list[str]
    contract_id: str | None
    description: str
    state: str = Field(description="`active`, or `failing` after a day of failed retries")
    created_at: datetime

    @classmethod
    def of(cls, subscription: Subscription) -> SubscriptionOut:
        return cls(
            id=subscription.id,
            url=subscription.url,
            types=list(subscription.types),
            contract_id=subscription.contract_id,
            description=subscription.description,
            state=subscription.state,
            created_at=subscription.created_at,
        )


class SubscriptionState(SubscriptionOut):
    delivered_up_to: int = Field(
        description="The feed position (`sequence`) up to which every event was delivered or "
        "was not for this subscription"
    )
    failing_since: datetime | None = Field(
        description="When delivery of the event now waiting first failed (null while delivering)"
    )
    next_attempt_at: datetime | None = Field(description="When the next retry is due, if any")

    @classmethod
    def of_state(cls, subscription: Subscription) -> SubscriptionState:
        def moment(seconds: float | None) -> datetime | None:
            return None if not seconds else datetime.fromtimestamp(seconds, UTC)

        return cls(
            **SubscriptionOut.of(subscription).model_dump(),
            delivered_up_to=subscription.cursor,
            failing_since=moment(subscription.failing_since),
            next_attempt_at=moment(subscription.next_attempt_at),
        )


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(
        description="The signing secret (`whsec_` and base64), shown this once: keep it to "
        "verify the `webhook-signature` of every delivery"
    )


class DeliveryOut(Out):
    id: int
    event_id: str = Field(description="The CloudEvent's id, also the `webhook-id` header")
    sequence: int
    attempt: int
    at: datetime
    duration_ms: int
    status_code: int | None = Field(description="The receiver's answer, if it answered")
    error: str | None = Field(description="What went wrong when it did not")

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        return cls(
            id=delivery.id,
            event_id=delivery.event_id,
            sequence=delivery.sequence,
            attempt=delivery.attempt,
            at=delivery.at,
            duration_ms=delivery.duration_ms,
            status_code=delivery.status_code,
            error=delivery.error,
        )


class DeliveryPage(Out):
    items: list[DeliveryOut]
    next_cursor: int | None


SUBSCRIBE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    400: _problem("Invalid body, or a URL this service will not call (see invalidParams)"),
    413: _problem("The body is larger than 1 MiB"),
}
DELIVERY_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    404: _problem("No such subscription (or not your organisation's)"),
}


@router.post(
    "",
    status_code=201,
    response_model=SubscriptionCreated,
    summary="Subscribe a URL to your organisation's events (signed webhooks)",
    description="For a contract manager or an auditor: every event of the change feed your "
    "organisation may see (filtered by `types` and `contractId`) is POSTed to `url` as a "
    "CloudEvent, signed as Standard Webhooks (`webhook-id`, `webhook-timestamp`, "
    "`webhook-signature`), at least once, in order, retried with backoff for up to a day, "
    "starting with the events committed after this subscription. "
    "The secret is in this answer only.",
    responses=SUBSCRIBE_ERRORS,
)
def subscribe(
    body: SubscriptionCreate,
    principal: CurrentPrincipal,
    services: ServicesDep,
    contracts: ContractsDep,
) -> JSONResponse:
    if not principal.can_audit():
        raise NotPermitted("only a contract manager or an auditor may subscribe to webhooks")
    types = tuple(sorted(set(body.types)))
    checked(contracts, principal, FeedQuery(contract_id=body.contract_id, types=types))
    checked_url(body.url, allow_local=services.settings.webhooks_allow_local)
    subscription = Subscription(
        id=uuid.uuid4().hex,
        organisation=principal.org,
        roles=sorted_roles(list(principal.roles)),
        url=body.url,
        types=types,
        contract_id=body.contract_id,
        description=body.description,
        secret=new_secret(),
        created_at=datetime.now(UTC),
        cursor=feed_head(contracts),  # events committed from now on
    )
    services.webhooks.add(subscription)
    services.wake_webhooks()
    out = SubscriptionCreated(
        **SubscriptionOut.of(subscription).model_dump(), secret=subscription.secret
    )
    return JSONResponse(
        out.model_dump(mode="json", by_alias=True),
        status_code=201,
        headers={"Cache-Control": "no-store"},  # the secret: never kept by a cache
    )


SubscriptionIdPath = Annotated[
    str,
    Path(
        alias="subscriptionId",
        min_length=32,
        max_length=32,
        pattern=r"^[0-9a-f]{32}$",
        description="The subscription's id (32 hexadecimal characters)",
    ),
]


def _own(subscription_id: str, principal: CurrentPrincipal, services: ServicesDep) -> Subscription:
    subscription = only_org(services.webhooks.get(subscription_id), principal.org)
    if subscription is None:
        raise SubscriptionNotFound("no such subscription")
    if not principal.can_audit():
        raise NotPermitted("only a contract manager or an auditor may read subscriptions")
    return subscription


class SubscriptionList(Out):
    items: list[SubscriptionState]


@router.get(
    "",
    response_model=SubscriptionList,
    summary="Your organisation's subscriptions and how their delivery stands",
    description="Oldest first; never the secrets. For a contract manager or an auditor.",
    responses=READ_ERRORS,
)
def list_subscriptions(principal: CurrentPrincipal, services: ServicesDep) -> SubscriptionList:
    if not principal.can_audit():
        raise NotPermitted("only a contract manager or an auditor may read subscriptions")
    found = services.webhooks.of_organisation(principal.org)
    return SubscriptionList(items=[SubscriptionState.of_state(s) for s in found])


@router.delete(
    "/{subscriptionId}",
    status_code=204,
    summary="Stop a subscription: nothing more is delivered, its delivery attempts go too",
    responses=DELIVERY_ERRORS,
)
def unsubscribe(
    subscription_id: SubscriptionIdPath, principal: CurrentPrincipal, services: ServicesDep
) -> Response:
    subscription = _own(subscription_id, principal, services)
    if not services.webhooks.remove(subscription.id):
        raise SubscriptionNotFound("no such subscription")
    return Response(status_code=204)


@router.get(
    "/{subscriptionId}",
    response_model=SubscriptionState,
    summary="A subscription and how its delivery stands (`active` or `failing`)",
    description="Never the secret: it is shown once, when subscribing.",
    responses=DELIVERY_ERRORS,
)
def read_subscription(
    subscription_id: SubscriptionIdPath, principal: CurrentPrincipal, services: ServicesDep
) -> SubscriptionState:
    return SubscriptionState.of_state(_own(subscription_id, principal, services))


@router.get(
    "/{subscriptionId}/deliveries",
    response_model=DeliveryPage,
    summary="A subscription's delivery attempts and the answers they got",
    description="Oldest first; pass `nextCursor` as `after` for the next page (null on the last).",
    responses=DELIVERY_ERRORS,
)
def read_deliveries(
    subscription_id: SubscriptionIdPath,
    principal: CurrentPrincipal,
    services: ServicesDep,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="Attempts after this id")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size")] = 100,
) -> DeliveryPage:
    subscription = _own(subscription_id, principal, services)
    found = services.webhooks.deliveries(subscription.id, after, limit)
    next_cursor = found[-1].id if len(found) == limit else None
    return DeliveryPage(items=[DeliveryOut.of(d) for d in found], next_cursor=next_cursor)
