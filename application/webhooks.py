"""Signed webhooks (issue 15, point 3): an organisation's subscriptions to the change feed, each
delivered as the feed's CloudEvents, signed as Standard Webhooks (standardwebhooks.com).

A subscription is a catch-up reader of the feed (application/feed.py) with a cursor: the
position of the last event its receiver answered with a 2xx. The events themselves are the
outbox: the notification log is written in the same transaction as the events, so an event
committed is an event that will be delivered, whatever happens to the process afterwards.
Delivery (infrastructure/webhooks.py) reads after the cursor with the feed's visibility rule
for the subscription's organisation, one event at a time, and moves the cursor only after a
2xx: at least once, in commit order (so in order per contract), head-of-line per subscription.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

SECRET_PREFIX = "whsec_"  # noqa: S105 (a format prefix, not a secret)
#: Bytes of HMAC key behind a secret (Standard Webhooks: between 24 and 64).
SECRET_BYTES = 32
MAX_PAGE = 500

State = Literal["active", "failing"]


def new_secret() -> str:
    """A fresh signing secret, `whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key behind a `whsec_` secret."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: `v1,` and the base64 HMAC-SHA256 of
    `{id}.{timestamp}.{body}` under the secret's key."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Subscription:
    id: str
    organisation: str
    roles: tuple[str, ...]  # of the person who subscribed: what the organisation may see
    url: str
    types: tuple[str, ...]
    contract_id: str | None
    description: str
    secret: str = field(repr=False)
    created_at: datetime
    state: State = "active"
    cursor: int = 0  # the position of the last event delivered (or passed over)
    failures: int = 0  # failed attempts in a row at the head event
    failing_since: float | None = None  # when the head event first failed (epoch seconds)
    next_attempt_at: float = 0.0  # epoch seconds


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver one event to one subscription."""

    subscription_id: str
    event_id: str  # the CloudEvent id, also the `webhook-id`
    sequence: int
    attempt: int
    at: datetime
    duration_ms: int
    status_code: int | None = None  # the receiver's answer, if any
    error: str | None = None  # what went wrong otherwise (no secrets, no bodies)
    id: int = 0


@dataclass(frozen=True)
class Progress:
    """A subscription's delivery state after an attempt (or a run of passed-over positions)."""

    state: State
    cursor: int
    failures: int
    failing_since: float | None
    next_attempt_at: float


class WebhookStore(Protocol):
    """Subscriptions and their delivery attempts, beside the events."""

    def add(self, subscription: Subscription) -> None: ...

    def get(self, subscription_id: str) -> Subscription | None: ...

    def of_organisation(self, organisation: str) -> list[Subscription]:
        """An organisation's subscriptions, oldest first."""
        ...

    def remove(self, subscription_id: str) -> bool:
        """Delete a subscription and its delivery attempts; whether it was there."""
        ...

    def due(self, now: float) -> list[Subscription]:
        """Subscriptions whose next attempt is due (an empty list while there are none)."""

    def claim(self, subscription_id: str, owner: str, now: float, until: float) -> bool:
        """Take (or renew) the delivery lease of a subscription; False if another holds it."""

    def release(self, subscription_id: str, owner: str) -> None: ...

    def record(self, delivery: Delivery | None, progress: Progress, subscription_id: str) -> None:
        """Store an attempt (if any) and the subscription's new progress, in one transaction."""

    def deliveries(self, subscription_id: str, after: int, limit: int) -> list[Delivery]: ...

    def close(self) -> None: ...


def only_org(subscription: Subscription | None, organisation: str) -> Subscription | None:
    """The subscription if the organisation owns it; another's does not exist for it."""
    if subscription is None or subscription.organisation != organisation:
        return None
    return subscription


def sorted_roles(roles: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(set(roles)))
