"""Webhook subscriptions and deliveries: their stores (memory, SQLite, PostgreSQL, beside the
events), the SSRF guard, and the deliverer thread (docs/INTEGRATION.md).

The outbox is the event store's notification log, written in the same transaction as the events
(application/webhooks.py): a subscription holds a cursor, and the deliverer sends what the feed
shows its organisation after that cursor, moving it only after a 2xx. A process killed between
a commit and its delivery loses nothing: the next deliverer reads from the cursor.

Several processes (workers, or servers on one PostgreSQL): each runs a deliverer, and a
subscription is served by one at a time under a lease in its row (`lease_owner`,
`lease_until`), taken with a conditional UPDATE (one row, atomic on both databases) and renewed
before every attempt. A deliverer that dies leaves the lease to run out (`webhooks_lease_seconds`);
then another takes over from the cursor. An attempt whose 2xx arrived but whose cursor update
did not is sent again: at least once, never lost.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import random
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from application.contract_store import ContractStore
from application.errors import ContractNotFound, UnsafeWebhookUrl
from application.feed import FeedQuery, feed_head, feed_page
from application.principal import Principal
from application.webhooks import (
    Delivery,
    Progress,
    Subscription,
    WebhookStore,
    signature,
)
from infrastructure import metrics
from infrastructure.settings import Settings, side_conninfo

log = logging.getLogger("dialoog.webhooks")

SUBSCRIPTIONS = "dialoog_webhook_subscriptions"
DELIVERIES = "dialoog_webhook_deliveries"
LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}

# --------------------------------------------------------------------------- SSRF


def checked_url(url: str, *, allow_local: bool) -> list[str]:
    """The addresses to call the URL at, each checked: https only (http to 127.0.0.1, ::1 and
    localhost only when `allow_local`), never a private, loopback, link-local, reserved or
    multicast address (the host is resolved; every address it resolves to must pass).
    UnsafeWebhookUrl otherwise. Called when subscribing and again before every attempt (DNS
    rebinding), and the attempt connects to the address checked."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise UnsafeWebhookUrl("the URL cannot be parsed") from None
    if not host or parts.username or parts.password:
        raise UnsafeWebhookUrl("the URL needs a host and no user information")
    local = allow_local and host.lower() in LOCAL_NAMES
    if parts.scheme != "https" and not (local and parts.scheme == "http"):
        raise UnsafeWebhookUrl("webhook URLs must use https://")
    try:
        infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (OSError, ValueError):  # UnicodeError is a ValueError: a label too long, a NUL
        raise UnsafeWebhookUrl(f"the host {host!r} does not resolve") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise UnsafeWebhookUrl(f"the host {host!r} does not resolve")
    for address in addresses:
        if local and address.is_loopback:
            continue
        if not address.is_global or address.is_multicast:
            raise UnsafeWebhookUrl(
                "webhook URLs must not point at private, loopback, link-local or reserved addresses"
            )
    return list(dict.fromkeys(str(address) for address in addresses))


def _pinned(url: str, address: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The URL with its host replaced by the checked address, the Host header, and the TLS
    server name: the connection goes where the check looked, not where DNS says next."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    shown = f"[{address}]" if ":" in address else address
    netloc = shown + (f":{parts.port}" if parts.port else "")
    headers = {"Host": parts.netloc.rpartition("@")[2]}
    extensions: dict[str, Any] = {"sni_hostname": host} if parts.scheme == "https" else {}
    return urlunsplit(parts._replace(netloc=netloc)), headers, extensions


# --------------------------------------------------------------------------- stores


class MemoryWebhookStore:
    """For memory:// (tests, demos): forgotten with the process, like the events."""

    def __init__(self) -> None:
        self._subscriptions: dict[str, Subscription] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._deliveries: list[Delivery] = []
        self._lock = threading.Lock()

    def add(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions[subscription.id] = subscription

    def get(self, subscription_id: str) -> Subscription | None:
        with self._lock:
            return self._subscriptions.get(subscription_id)

    def of_organisation(self, organisation: str) -> list[Subscription]:
        with self._lock:
            found = [s for s in self._subscriptions.values() if s.organisation == organisation]
        return sorted(found, key=lambda s: (s.created_at, s.id))

    def remove(self, subscription_id: str) -> bool:
        with self._lock:
            self._deliveries = [d for d in self._deliveries if d.subscription_id != subscription_id]
            self._leases.pop(subscription_id, None)
            return self._subscriptions.pop(subscription_id, None) is not None

    def due(self, now: float) -> list[Subscription]:
        with self._lock:
            return [s for s in self._subscriptions.values() if s.next_attempt_at <= now]

    def claim(self, subscription_id: str, owner: str, now: float, until: float) -> bool:
        with self._lock:
            holder, expires = self._leases.get(subscription_id, ("", 0.0))
            if holder not in ("", owner) and expires > now:
                return False
            self._leases[subscription_id] = (owner, until)
            return True

    def release(self, subscription_id: str, owner: str) -> None:
        with self._lock:
            if self._leases.get(subscription_id, ("", 0.0))[0] == owner:
                del self._leases[subscription_id]

    def record(self, delivery: Delivery | None, progress: Progress, subscription_id: str) -> None:
        with self._lock:
            if delivery is not None:
                self._deliveries.append(replace(delivery, id=len(self._deliveries) + 1))
            current = self._subscriptions.get(subscription_id)
            if current is None:  # removed while its events were being delivered
                return
            self._subscriptions[subscription_id] = replace(
                current,
                state=progress.state,
                cursor=progress.cursor,
                failures=progress.failures,
                failing_since=progress.failing_since,
                next_attempt_at=progress.next_attempt_at,
            )

    def deliveries(self, subscription_id: str, after: int, limit: int) -> list[Delivery]:
        with self._lock:
            found = [
                d for d in self._deliveries if d.subscription_id == subscription_id and d.id > after
            ]
            return found[:limit]

    def close(self) -> None:
        return None


_SUBSCRIPTION_COLUMNS = (
    "id, organisation, roles, url, types, contract_id, description, secret, created_at, "
    "state, cursor, failures, failing_since, next_attempt_at"
)
_DELIVERY_COLUMNS = (
    "subscription_id, event_id, sequence, attempt, at, duration_ms, status_code, error"
)


def _schema(serial: str, real: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {SUBSCRIPTIONS} (
            id TEXT PRIMARY KEY,
            organisation TEXT NOT NULL,
            roles TEXT NOT NULL,
            url TEXT NOT NULL,
            types TEXT NOT NULL,
            contract_id TEXT,
            description TEXT NOT NULL,
            secret TEXT NOT NULL,
            created_at TEXT NOT NULL,
            state TEXT NOT NULL,
            cursor BIGINT NOT NULL,
            failures INTEGER NOT NULL,
            failing_since {real},
            next_attempt_at {real} NOT NULL,
            lease_owner TEXT,
            lease_until {real}
        )""",
        f"""CREATE TABLE IF NOT EXISTS {DELIVERIES} (
            id {serial},
            subscription_id TEXT NOT NULL,
            event_id TEXT NOT NULL,
            sequence BIGINT NOT NULL,
            attempt INTEGER NOT NULL,
            at TEXT NOT NULL,
            duration_ms INTEGER NOT NULL,
            status_code INTEGER,
            error TEXT
        )""",
        f"CREATE INDEX IF NOT EXISTS {DELIVERIES}_subscription ON {DELIVERIES} "
        "(subscription_id, id)",
    ]


def _subscription(row: tuple[Any, ...]) -> Subscription:
    (id_, organisation, roles, url, types, contract_id, description, secret, created_at) = row[:9]
    state, cursor, failures, failing_since, next_attempt_at = row[9:]
    return Subscription(
        id=id_,
        organisation=organisation,
        roles=tuple(json.loads(roles)),
        url=url,
        types=tuple(json.loads(types)),
        contract_id=contract_id,
        description=description,
        secret=secret,
        created_at=datetime.fromisoformat(created_at),
        state=state,
        cursor=int(cursor),
        failures=int(failures),
        failing_since=None if failing_since is None else float(failing_since),
        next_attempt_at=float(next_attempt_at),
    )


def _delivery(row: tuple[Any, ...]) -> Delivery:
    id_, subscription_id, event_id, sequence, attempt, at, duration_ms, status, error = row
    return Delivery(
        id=int(id_),
        subscription_id=subscription_id,
        event_id=event_id,
        sequence=int(sequence),
        attempt=int(attempt),
        at=datetime.fromisoformat(at),
        duration_ms=int(duration_ms),
        status_code=None if status is None else int(status),
        error=error,
    )


class SqlWebhookStore:
    """The tables in the events' SQLite file or PostgreSQL database; a connection per call
    (calls come a few times a second at most)."""

    def __init__(self, connect: Any, *, postgres: bool) -> None:
        self._connect_raw = connect
        self._postgres = postgres
        self._ready = False
        self._p = "%s" if postgres else "?"

    @contextlib.contextmanager
    def _connection(self, *, create: bool = True) -> Iterator[Any]:
        connection = self._connect_raw()
        try:
            if not self._ready and create:
                serial = (
                    "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
                    if self._postgres
                    else "INTEGER PRIMARY KEY AUTOINCREMENT"
                )
                real = "DOUBLE PRECISION" if self._postgres else "REAL"
                with self._transaction(connection):
                    if self._postgres:
                        connection.execute("SELECT pg_advisory_xact_lock(%s)", (0x77686F6F6B,))
                    for statement in _schema(serial, real):
                        connection.execute(statement)
                self._ready = True
            yield connection
        finally:
            connection.close()

    @contextlib.contextmanager
    def _transaction(self, connection: Any) -> Iterator[None]:
        if self._postgres:
            with connection.transaction():
                yield
        else:
            with connection:
                yield

    def _exists(self, connection: Any) -> bool:
        if self._ready:
            return True
        if self._postgres:
            row = connection.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (f"public.{SUBSCRIPTIONS}",)
            ).fetchone()
        else:
            row = connection.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
                (SUBSCRIPTIONS,),
            ).fetchone()
        return bool(row and row[0])

    def _sql(self, sql: str) -> str:
        return sql.replace("?", self._p)

    def add(self, s: Subscription) -> None:
        values = (
            s.id,
            s.organisation,
            json.dumps(list(s.roles)),
            s.url,
            json.dumps(list(s.types)),
            s.contract_id,
            s.description,
            s.secret,
            s.created_at.isoformat(),
            s.state,
            s.cursor,
            s.failures,
            s.failing_since,
            s.next_attempt_at,
        )
        with self._connection() as connection, self._transaction(connection):
            connection.execute(
                self._sql(
                    f"INSERT INTO {SUBSCRIPTIONS} ({_SUBSCRIPTION_COLUMNS}) "  # noqa: S608
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                values,
            )

    def get(self, subscription_id: str) -> Subscription | None:
        with self._connection(create=False) as connection:
            if not self._exists(connection):
                return None
            row = connection.execute(
                self._sql(f"SELECT {_SUBSCRIPTION_COLUMNS} FROM {SUBSCRIPTIONS} WHERE id = ?"),  # noqa: S608
                (subscription_id,),
            ).fetchone()
        return None if row is None else _subscription(tuple(row))

    def of_organisation(self, organisation: str) -> list[Subscription]:
        with self._connection(create=False) as connection:
            if not self._exists(connection):
                return []
            rows = connection.execute(
                self._sql(
                    f"SELECT {_SUBSCRIPTION_COLUMNS} FROM {SUBSCRIPTIONS} "  # noqa: S608
                    "WHERE organisation = ? ORDER BY created_at, id"
                ),
                (organisation,),
            ).fetchall()
        return [_subscription(tuple(row)) for row in rows]

    def remove(self, subscription_id: str) -> bool:
        with self._connection(create=False) as connection:
            if not self._exists(connection):
                return False
            with self._transaction(connection):
                connection.execute(
                    self._sql(f"DELETE FROM {DELIVERIES} WHERE subscription_id = ?"),  # noqa: S608
                    (subscription_id,),
                )
                removed = connection.execute(
                    self._sql(f"DELETE FROM {SUBSCRIPTIONS} WHERE id = ?"),  # noqa: S608
                    (subscription_id,),
                ).rowcount
        return bool(removed)

    def due(self, now: float) -> list[Subscription]:
        with self._connection(create=False) as connection:
            if not self._exists(connection):
                return []
            rows = connection.execute(
                self._sql(
                    f"SELECT {_SUBSCRIPTION_COLUMNS} FROM {SUBSCRIPTIONS} "  # noqa: S608
                    "WHERE next_attempt_at <= ? ORDER BY next_attempt_at LIMIT 100"
                ),
                (now,),
            ).fetchall()
        return [_subscription(tuple(row)) for row in rows]

    def claim(self, subscription_id: str, owner: str, now: float, until: float) -> bool:
        with self._connection() as connection, self._transaction(connection):
            cursor = connection.execute(
                self._sql(
                    f"UPDATE {SUBSCRIPTIONS} SET lease_owner = ?, lease_until = ? "  # noqa: S608
                    "WHERE id = ? AND (lease_owner IS NULL OR lease_owner = ? "
                    "OR lease_until < ?)"
                ),
                (owner, until, subscription_id, owner, now),
            )
            return bool(cursor.rowcount == 1)

    def release(self, subscription_id: str, owner: str) -> None:
        with self._connection() as connection, self._transaction(connection):
            connection.execute(
                self._sql(
                    f"UPDATE {SUBSCRIPTIONS} SET lease_owner = NULL, lease_until = NULL "  # noqa: S608
                    "WHERE id = ? AND lease_owner = ?"
                ),
                (subscription_id, owner),
            )

    def record(self, delivery: Delivery | None, progress: Progress, subscription_id: str) -> None:
        with self._connection() as connection, self._transaction(connection):
            if delivery is not None:
                connection.execute(
                    self._sql(
                        # Not for a subscription removed while this attempt was under way.
                        f"INSERT INTO {DELIVERIES} ({_DELIVERY_COLUMNS}) "  # noqa: S608
                        "SELECT ?, ?, ?, ?, ?, ?, ?, ? "
                        f"WHERE EXISTS (SELECT 1 FROM {SUBSCRIPTIONS} WHERE id = ?)"
                    ),
                    (
                        delivery.subscription_id,
                        delivery.event_id,
                        delivery.sequence,
                        delivery.attempt,
                        delivery.at.isoformat(),
                        delivery.duration_ms,
                        delivery.status_code,
                        delivery.error,
                        delivery.subscription_id,
                    ),
                )
            connection.execute(
                self._sql(
                    f"UPDATE {SUBSCRIPTIONS} SET state = ?, cursor = ?, failures = ?, "  # noqa: S608
                    "failing_since = ?, next_attempt_at = ? WHERE id = ?"
                ),
                (
                    progress.state,
                    progress.cursor,
                    progress.failures,
                    progress.failing_since,
                    progress.next_attempt_at,
                    subscription_id,
                ),
            )

    def deliveries(self, subscription_id: str, after: int, limit: int) -> list[Delivery]:
        with self._connection(create=False) as connection:
            if not self._exists(connection):
                return []
            rows = connection.execute(
                self._sql(
                    f"SELECT id, {_DELIVERY_COLUMNS} FROM {DELIVERIES} "  # noqa: S608
                    "WHERE subscription_id = ? AND id > ? ORDER BY id LIMIT ?"
                ),
                (subscription_id, after, limit),
            ).fetchall()
        return [_delivery(tuple(row)) for row in rows]

    def close(self) -> None:
        return None


def webhook_store(settings: Settings) -> WebhookStore:
    """The subscriptions beside the events: the same SQLite file or PostgreSQL database."""
    database = settings.database
    if database.kind == "memory":
        return MemoryWebhookStore()
    if database.path is not None:
        path, timeout = str(database.path), settings.lock_timeout
        return SqlWebhookStore(lambda: sqlite3.connect(path, timeout=timeout), postgres=False)
    conninfo = side_conninfo(settings)
    seconds = max(2, int(settings.connect_timeout))

    def connect() -> Any:
        import psycopg

        return psycopg.connect(conninfo, connect_timeout=seconds, autocommit=True)

    return SqlWebhookStore(connect, postgres=True)


# --------------------------------------------------------------------------- delivery


class Deliverer:
    """Delivers what the feed shows each due subscription after its cursor, one event at a time,
    in order; `run_once` is a task of the process's runner (infrastructure/runner.py)."""

    def __init__(self, store: WebhookStore, contracts: Any, settings: Settings) -> None:
        self.store = store
        self._contracts = contracts  # a callable giving the ContractStore (built lazily)
        self._settings = settings
        self._owner = uuid.uuid4().hex
        self._stop = threading.Event()
        self._client: httpx.Client | None = None

    def stop(self) -> None:
        """Finish the delivery under way and start no other."""
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
        if self._client is not None:
            self._client.close()

    def run_once(self) -> None:
        now = time.time()
        due = self.store.due(now)
        if not due:
            return
        head = feed_head(self._contracts())  # nothing new: no lease taken, nothing written
        for subscription in due:
            if self._stop.is_set():
                return
            if subscription.cursor >= head:
                continue
            lease = self._settings.webhooks_lease_seconds
            if not self.store.claim(subscription.id, self._owner, now, time.time() + lease):
                continue
            try:
                self._deliver(subscription)
            except Exception as error:  # one subscription's trouble holds back no other
                log.warning(
                    "webhook subscription %s: delivery pass failed (%s)",
                    subscription.id,
                    type(error).__name__,
                )
            finally:
                self.store.release(subscription.id, self._owner)

    def _deliver(self, subscription: Subscription) -> None:
        """Deliver after the cursor until caught up, a failure, or this pass's time is up."""
        settings = self._settings
        contracts: ContractStore = self._contracts()
        principal = Principal(
            subject=f"webhook:{subscription.id}",
            name="webhook",
            org=subscription.organisation,
            roles=frozenset(subscription.roles),
        )
        deadline = time.monotonic() + max(settings.webhooks_timeout * 2, 5)
        current = self.store.get(subscription.id) or subscription  # its latest cursor
        while not self._stop.is_set() and time.monotonic() < deadline:
            query = FeedQuery(
                after=current.cursor,
                limit=20,
                contract_id=current.contract_id,
                types=current.types,
            )
            try:
                page = feed_page(contracts, principal, query, settings.event_source)
            except ContractNotFound:  # the one contract is no longer visible: pass over it
                head = feed_head(contracts)
                if head > current.cursor:
                    self.store.record(None, _caught_up(head), current.id)
                return
            for item in page.items:
                renewed = time.time() + settings.webhooks_lease_seconds
                if not self.store.claim(current.id, self._owner, time.time(), renewed):
                    return
                ok, current = self._attempt(current, item)
                if not ok:
                    return
            if page.next_cursor > current.cursor:
                self.store.record(None, _caught_up(page.next_cursor), current.id)
                current = replace(current, cursor=page.next_cursor)
            if not page.items:
                return

    def _attempt(
        self, subscription: Subscription, item: dict[str, Any]
    ) -> tuple[bool, Subscription]:
        settings = self._settings
        body = orjson.dumps(item)
        event_id: str = item["id"]
        timestamp = int(time.time())
        headers = {
            "content-type": "application/cloudevents+json; charset=utf-8",
            "webhook-id": event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(subscription.secret, event_id, timestamp, body),
            "user-agent": "dialoog-webhooks",
        }
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            addresses = checked_url(subscription.url, allow_local=settings.webhooks_allow_local)
            for number, address in enumerate(addresses, start=1):
                target, host, extensions = _pinned(subscription.url, address)
                try:
                    response = self._http().post(
                        target, content=body, headers=headers | host, extensions=extensions
                    )
                except httpx.ConnectError:
                    if number == len(addresses):
                        raise
                    continue  # the next address of the host (`localhost`: ::1, then 127.0.0.1)
                status = response.status_code
                break
        except UnsafeWebhookUrl as refused:
            error = f"refused: {refused}"
        except httpx.HTTPError as failed:
            error = type(failed).__name__
        duration = int((time.monotonic() - started) * 1000)
        ok = status is not None and 200 <= status < 300
        metrics.WEBHOOK_DELIVERIES.labels("delivered" if ok else "failed").inc()
        now = time.time()
        delivery = Delivery(
            subscription_id=subscription.id,
            event_id=event_id,
            sequence=int(item["sequence"]),
            attempt=subscription.failures + 1,
            at=datetime.now(UTC),
            duration_ms=duration,
            status_code=status,
            error=error,
        )
        if ok:
            progress = _caught_up(int(item["sequence"]))
        else:
            failures = subscription.failures + 1
            since = subscription.failing_since or now
            delay = min(
                settings.webhooks_backoff_cap,
                settings.webhooks_backoff_base * 2 ** min(failures - 1, 40),
            )
            delay *= random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not a secret)
            failing = now - since >= settings.webhooks_give_up_after
            progress = Progress(
                state="failing" if failing else subscription.state,
                cursor=subscription.cursor,
                failures=failures,
                failing_since=since,
                next_attempt_at=now + delay,
            )
            if failing and subscription.state != "failing":
                log.warning("webhook subscription %s is failing", subscription.id)
        self.store.record(delivery, progress, subscription.id)
        return ok, replace(
            subscription,
            state=progress.state,
            cursor=progress.cursor,
            failures=progress.failures,
            failing_since=progress.failing_since,
            next_attempt_at=progress.next_attempt_at,
        )

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=self._settings.webhooks_timeout, follow_redirects=False, trust_env=False
            )
        return self._client


def _caught_up(cursor: int) -> Progress:
    return Progress(
        state="active", cursor=cursor, failures=0, failing_since=None, next_attempt_at=0.0
    )
