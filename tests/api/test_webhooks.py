"""Signed webhooks (issue 15, point 3) against a receiver on 127.0.0.1: signatures that verify
with an independent implementation, retries in order while the receiver is down, delivery after
a kill -9 between commit and delivery, SSRF refusals, the deliveries endpoint, visibility."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infrastructure.settings import Settings
from tests.support import api as s
from tests.support.api import API
from tests.support.people import RIA
from tests.support.receiver import Received, Receiver, receiving
from tests.support.servers import free_port, served

SUBSCRIPTIONS = f"{API}/subscriptions"


@pytest.fixture
def local(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhooks_allow_local": True,
            "webhooks_poll_seconds": 0.05,
            "webhooks_backoff_base": 0.05,
            "webhooks_backoff_cap": 0.2,
            "webhooks_timeout": 2,
        }
    )


@pytest.fixture
def client(local: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(local), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as receiver:
        yield receiver


def subscribe(client: Any, url: str, headers: s.Headers | None = None, **extra: Any) -> Any:
    body = {"url": url, "description": "Dashboard van de gemeente", **extra}
    headers = s.commissioner() if headers is None else headers
    return client.post(SUBSCRIPTIONS, headers=headers, json=body)


def subscribed(client: Any, url: str, headers: s.Headers | None = None, **extra: Any) -> dict:
    response = subscribe(client, url, headers, **extra)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def verify(secret: str, received: Received, tolerance: int = 300) -> dict[str, Any]:
    """The Standard Webhooks check as a receiver writes it, independent of the server's code."""
    key = base64.b64decode(secret.split("_", 1)[1])
    message_id = received.headers["webhook-id"]
    timestamp = received.headers["webhook-timestamp"]
    assert abs(time.time() - int(timestamp)) < tolerance
    signed = message_id.encode() + b"." + timestamp.encode() + b"." + received.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [p.split(",", 1)[1] for p in received.headers["webhook-signature"].split()]
    assert any(hmac.compare_digest(expected, sig) for sig in offered), "signature does not verify"
    event: dict[str, Any] = json.loads(received.body)
    return event


def _feed(client: Any, headers: s.Headers) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = 0
    for _ in range(100):
        page = client.get(f"{API}/events", headers=headers, params={"after": after}).json()
        if not page["items"]:
            return items
        items += page["items"]
        after = page["nextCursor"]
    raise AssertionError("the feed never ended")


def _delivered_total() -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value("dialoog_webhook_deliveries_total", {"outcome": "delivered"})
    return value or 0.0


def test_deliveries_are_signed_and_in_order(client: TestClient, receiver: Receiver) -> None:
    before = _delivered_total()
    created = subscribed(client, receiver.url)
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) == 32
    assert created["state"] == "active"
    s.active_contract(client)
    expected = _feed(client, s.commissioner())
    got = receiver.wait_for(len(expected))
    events = [verify(created["secret"], r) for r in got]
    assert [e["id"] for e in events] == [e["id"] for e in expected]
    assert events == expected  # the body is the feed's CloudEvent
    assert got[0].headers["webhook-id"] == events[0]["id"]
    assert got[0].headers["content-type"].startswith("application/cloudevents+json")
    # A body changed in transit does not verify.
    forged = Received(got[0].headers, got[0].body.replace(b"1.0", b"1.1"), 204)
    with pytest.raises(AssertionError, match="does not verify"):
        verify(created["secret"], forged)

    deliveries = client.get(
        f"{SUBSCRIPTIONS}/{created['id']}/deliveries", headers=s.auditor()
    ).json()
    assert [d["eventId"] for d in deliveries["items"]] == [e["id"] for e in expected]
    assert {d["statusCode"] for d in deliveries["items"]} == {204}
    assert all(d["attempt"] == 1 for d in deliveries["items"])
    assert deliveries["nextCursor"] is None
    assert _delivered_total() - before >= len(expected)  # the operators' series


def _documented_verify() -> Any:
    """The `verify` of docs/INTEGRATION.md, as a dashboard would copy it."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "INTEGRATION.md").read_text()
    block = text.split("### Verifying a delivery", 1)[1].split("```python\n", 1)[1]
    namespace: dict[str, Any] = {}
    exec(block.split("```", 1)[0], namespace)  # noqa: S102 (our own documentation)
    return namespace["verify"]


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
def test_the_documented_example_verifies_a_delivery(client: TestClient, receiver: Receiver) -> None:
    documented = _documented_verify()
    created = subscribed(client, receiver.url)
    contract_id = s.open_contract(client)
    got = receiver.wait_for(1)[0]
    assert documented(created["secret"], got.headers, got.body)["subject"] == contract_id
    with pytest.raises(ValueError, match="no valid signature"):
        documented(created["secret"], got.headers, got.body + b" ")
    other = subscribed(client, receiver.url)["secret"]
    with pytest.raises(ValueError, match="no valid signature"):
        documented(other, got.headers, got.body)
    stale = dict(got.headers, **{"webhook-timestamp": str(int(time.time()) - 3600)})
    with pytest.raises(ValueError, match="timestamp"):
        documented(created["secret"], stale, got.body)


def test_receiver_down_for_a_while_then_delivered_in_order(
    client: TestClient, receiver: Receiver
) -> None:
    receiver.down = True
    created = subscribed(client, receiver.url, headers=s.auditor())
    s.active_contract(client)
    expected = [e["id"] for e in _feed(client, s.auditor())]
    deadline = time.monotonic() + 10
    while len(receiver.received) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    with receiver.lock:
        refused = [json.loads(r.body)["id"] for r in receiver.received]
    assert len(refused) >= 4
    assert set(refused) == {expected[0]}  # head of line: nothing passes the first event
    receiver.down = False
    got = receiver.wait_for(len(expected))
    assert [verify(created["secret"], r)["id"] for r in got] == expected

    items = client.get(
        f"{SUBSCRIPTIONS}/{created['id']}/deliveries", headers=s.auditor(), params={"limit": 500}
    ).json()["items"]
    first = [d for d in items if d["eventId"] == expected[0]]
    assert [d["attempt"] for d in first] == list(range(1, len(first) + 1))
    assert {d["statusCode"] for d in first[:-1]} == {503}
    assert first[-1]["statusCode"] == 204
    assert all(d["durationMs"] >= 0 for d in items)


def _attempts(client: Any, subscription_id: str) -> list[dict[str, Any]]:
    page = client.get(
        f"{SUBSCRIPTIONS}/{subscription_id}/deliveries",
        headers=s.commissioner(),
        params={"limit": 500},
    )
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


def test_receiver_not_listening_then_listening(client: TestClient) -> None:
    port = free_port()
    created = subscribed(client, f"http://127.0.0.1:{port}/hook")
    contract_id = s.open_contract(client)
    deadline = time.monotonic() + 10
    while len(_attempts(client, created["id"])) < 3:
        assert time.monotonic() < deadline, "no retries"
        time.sleep(0.05)
    failed = _attempts(client, created["id"])
    assert {d["statusCode"] for d in failed} == {None}
    assert {d["error"] for d in failed} == {"ConnectError"}
    assert [d["attempt"] for d in failed] == list(range(1, len(failed) + 1))
    with receiving(port) as receiver:
        got = receiver.wait_for(1)
        assert verify(created["secret"], got[0])["id"] == f"{contract_id}-1"


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
def test_localhost_reaches_a_receiver_on_127_0_0_1(client: TestClient, receiver: Receiver) -> None:
    """`localhost` may resolve to ::1 first: each checked address is tried in turn."""
    created = subscribed(client, f"http://localhost:{receiver.port}/hook")
    contract_id = s.open_contract(client)
    got = receiver.wait_for(1)
    assert verify(created["secret"], got[0])["id"] == f"{contract_id}-1"
    assert got[0].headers["host"] == f"localhost:{receiver.port}"  # pinned, Host kept


def test_a_revoked_grant_stops_the_events(client: TestClient) -> None:
    contract = s.active_contract(client)
    granted = client.post(
        contract.url("/access-grants"),
        headers=s.commissioner(),
        json={"org": RIA.org, "role": "auditor", "reason": "Onderzoek inkoop sociaal domein"},
    )
    assert granted.status_code == 201, granted.text
    with receiving() as receiver:
        created = subscribed(client, receiver.url, s.headers_of(RIA))
        s.hold_session(client, contract.id)
        first = receiver.wait_for(1)
        assert verify(created["secret"], first[0])["type"] == "nl.dialoog.contract.session-held"
        revoked = client.post(
            contract.url(f"/access-grants/{granted.json()['grantId']}/revocation"),
            headers=s.commissioner(),
            json={"reason": "Onderzoek afgerond"},
        )
        assert revoked.status_code == 200, revoked.text
        s.hold_session(client, contract.id)
        time.sleep(0.5)  # the deliverer had its chances
        assert len(receiver.received) == 1


def test_failing_after_the_configured_time(local: Settings, receiver: Receiver) -> None:
    settings = local.model_copy(update={"webhooks_give_up_after": 0.3})
    receiver.down = True
    with TestClient(create_app(settings)) as client:
        created = subscribed(client, receiver.url)
        url = f"{SUBSCRIPTIONS}/{created['id']}"

        def state() -> dict[str, Any]:
            response = client.get(url, headers=s.commissioner())
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        assert state()["failingSince"] is None
        s.open_contract(client)
        deadline = time.monotonic() + 10
        while state()["state"] != "failing":
            assert time.monotonic() < deadline, "never marked failing"
            time.sleep(0.05)
        failing = state()
        assert failing["failingSince"] is not None
        assert "secret" not in failing
        assert len(_attempts(client, created["id"])) >= 2
        receiver.down = False  # still tried (at the cap), and active again once delivered
        receiver.wait_for(1)
        while state()["state"] != "active":
            assert time.monotonic() < deadline + 10, "never active again"
            time.sleep(0.05)
        assert state()["failingSince"] is None
        assert state()["deliveredUpTo"] >= 1


SSRF = [
    "http://10.0.0.1/hook",
    "https://10.0.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/hook",
    "https://192.168.1.10/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",
    "https://intranet.gemeente.example/hook",  # resolves to 10.1.2.3 (see the fixture)
    "ftp://dashboard.example.nl/hook",
    "https://user:pw@dashboard.example.nl/hook",
    "not a url",
]
#: Loopback, refused unless DIALOOG_WEBHOOKS_ALLOW_LOCAL is set.
LOOPBACK = ["http://[::1]/hook", "http://127.0.0.1/hook", "http://localhost/hook"]


@pytest.fixture
def private_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """A DNS name resolving to a private address (the app runs in this process)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "intranet.gemeente.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
@pytest.mark.parametrize("url", SSRF)
def test_ssrf_refused_with_400(client: TestClient, url: str, private_dns: None) -> None:
    problem = s.assert_problem(subscribe(client, url), 400)
    assert problem["type"].endswith(("unsafe-webhook-url", "invalid-request"))


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
@pytest.mark.parametrize("url", LOOPBACK)
def test_loopback_only_with_the_setting(settings: Settings, url: str) -> None:
    with TestClient(create_app(settings)) as client:
        problem = s.assert_problem(subscribe(client, url), 400, "unsafe-webhook-url")
        assert problem["invalidParams"][0]["name"] == "url"
    allowed = settings.model_copy(update={"webhooks_allow_local": True})
    with TestClient(create_app(allowed)) as client:
        assert subscribe(client, url).status_code == 201
        s.assert_problem(subscribe(client, "http://10.0.0.1/"), 400, "unsafe-webhook-url")


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
def test_who_may_subscribe_and_read_deliveries(client: TestClient, receiver: Receiver) -> None:
    s.assert_problem(subscribe(client, receiver.url, s.reader()), 403, "not-permitted")
    s.assert_unauthenticated(subscribe(client, receiver.url, s.no_token()))
    bad = subscribe(client, receiver.url, types=["nl.dialoog.contract.no-such-thing"])
    s.assert_problem(bad, 400)
    s.assert_problem(subscribe(client, receiver.url, contractId="0" * 32), 404)
    created = subscribed(client, receiver.url)
    deliveries = f"{SUBSCRIPTIONS}/{created['id']}/deliveries"
    s.assert_problem(client.get(deliveries, headers=s.reader()), 403, "not-permitted")
    s.assert_problem(client.get(deliveries, headers=s.provider_a()), 404, "subscription-not-found")
    s.assert_problem(
        client.get(f"{SUBSCRIPTIONS}/{'0' * 32}/deliveries", headers=s.commissioner()), 404
    )
    assert client.get(deliveries, headers=s.commissioner()).status_code == 200
    one = f"{SUBSCRIPTIONS}/{created['id']}"
    s.assert_problem(client.get(one, headers=s.reader()), 403, "not-permitted")
    s.assert_problem(client.get(one, headers=s.provider_a()), 404, "subscription-not-found")
    shown = client.get(one, headers=s.auditor())  # the organisation's auditor, too
    assert shown.status_code == 200, shown.text
    assert "secret" not in shown.json()
    assert shown.json()["state"] == "active"


def test_an_organisation_receives_only_what_it_may_see(
    client: TestClient, receiver: Receiver
) -> None:
    with receiving() as outsider_receiver, receiving() as provider_receiver:
        outsider = subscribed(
            client, outsider_receiver.url, s.token_for(s.OUTSIDER_ORG, "contract_manager")
        )
        mine = subscribed(client, receiver.url)
        contract = s.active_contract(client)
        # The provider subscribes once it is a party: a subscription sends what is committed
        # from then on, and what may be seen is judged when an event is sent.
        provider = subscribed(client, provider_receiver.url, s.provider_a())
        s.hold_session(client, contract.id)
        other = s.open_contract(client, "WMO-2025-099")  # zorg-a is no party to it
        expected = _feed(client, s.commissioner())
        assert {e["subject"] for e in expected} == {contract.id, other}
        receiver.wait_for(len(expected))
        got = provider_receiver.wait_for(1)
        [session] = [verify(provider["secret"], r) for r in got]
        assert (session["subject"], session["type"]) == (
            contract.id,
            "nl.dialoog.contract.session-held",
        )
        time.sleep(0.5)  # the deliverer had its chances
        assert outsider_receiver.received == []
        assert len(provider_receiver.accepted()) == 1
        assert outsider["id"] != mine["id"]


def test_filters_by_type_and_contract(client: TestClient, receiver: Receiver) -> None:
    contract = s.active_contract(client)
    with receiving() as typed:
        created = subscribed(
            client,
            typed.url,
            types=["nl.dialoog.contract.session-held"],
            contractId=contract.id,
        )
        s.hold_session(client, contract.id)
        s.open_contract(client, "WMO-2025-098")
        got = typed.wait_for(1)
        time.sleep(0.3)
        event = verify(created["secret"], got[0])
        assert event["type"] == "nl.dialoog.contract.session-held"
        assert event["subject"] == contract.id
        assert len(typed.accepted()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_killed_between_commit_and_delivery_delivered_after_restart(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    env = {
        "DIALOOG_WEBHOOKS_ALLOW_LOCAL": "1",
        "DIALOOG_WEBHOOKS_LEASE_SECONDS": "1",
        "DIALOOG_WEBHOOKS_TIMEOUT": "0.4",
    }
    # A deliverer that looks only once a minute: the commit lands, the delivery does not.
    with served(database_url, tmp_path, DIALOOG_WEBHOOKS_POLL_SECONDS="60", **env) as server:
        with server.client() as http:
            created = subscribed(http, receiver.url)
            time.sleep(0.5)  # the pass the subscription woke is over
            contract_id = s.open_contract(http)
            expected = [e["id"] for e in _feed(http, s.commissioner())]
        assert expected == [f"{contract_id}-1"]
        server.kill()  # kill -9 of the whole process group
    assert receiver.received == []
    with served(database_url, tmp_path, DIALOOG_WEBHOOKS_POLL_SECONDS="0.1", **env) as server:
        got = receiver.wait_for(1, seconds=30)
        assert [verify(created["secret"], r)["id"] for r in got] == expected
        with server.client() as http:
            deliveries = http.get(
                f"{SUBSCRIPTIONS}/{created['id']}/deliveries", headers=s.commissioner()
            ).json()["items"]
        assert [d["statusCode"] for d in deliveries] == [204]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_two_workers_deliver_each_event_once_in_order(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    """Every worker runs a deliverer; the lease lets one at a time serve a subscription, so
    nothing is sent twice or out of order, also across retries. The secret is never logged."""
    receiver.down = True
    with served(
        database_url,
        tmp_path,
        workers=2,
        log_level="INFO",
        DIALOOG_WEBHOOKS_ALLOW_LOCAL="1",
        DIALOOG_WEBHOOKS_POLL_SECONDS="0.05",
        DIALOOG_WEBHOOKS_BACKOFF_BASE="0.1",
        DIALOOG_WEBHOOKS_BACKOFF_CAP="0.3",
    ) as server:
        with server.client() as http:
            created = subscribed(http, receiver.url)
            s.active_contract(http)
            s.open_contract(http, "WMO-2025-097")
            expected = [e["id"] for e in _feed(http, s.commissioner())]
            time.sleep(1)
            receiver.down = False
            got = receiver.wait_for(len(expected), seconds=30)
            time.sleep(0.5)  # time for a duplicate to show, were there one
            assert [verify(created["secret"], r)["id"] for r in receiver.accepted()] == expected
            assert len(got) == len(expected)
        assert created["secret"] not in server.log.read_text(errors="replace")
        assert created["secret"].removeprefix("whsec_") not in server.log.read_text(
            errors="replace"
        )


def test_an_organisation_lists_and_stops_its_subscriptions(
    client: TestClient, receiver: Receiver
) -> None:
    first = subscribed(client, receiver.url)
    second = subscribed(client, receiver.url, s.auditor(), description="Rekenkamer-monitor")
    with receiving() as elsewhere:  # zorg-a's own receiver (gone once subscribed: no matter)
        theirs = subscribed(client, elsewhere.url, s.provider_a())
    listed = client.get(SUBSCRIPTIONS, headers=s.commissioner())
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [i["id"] for i in items] == [first["id"], second["id"]]  # oldest first, theirs not
    assert all("secret" not in i for i in items)
    s.assert_problem(client.get(SUBSCRIPTIONS, headers=s.reader()), 403, "not-permitted")
    # Another organisation's subscription is not there for us to stop.
    s.assert_problem(
        client.delete(f"{SUBSCRIPTIONS}/{theirs['id']}", headers=s.commissioner()), 404
    )
    s.assert_problem(
        client.delete(f"{SUBSCRIPTIONS}/{first['id']}", headers=s.reader()), 403, "not-permitted"
    )

    contract = s.active_contract(client)
    receiver.wait_for(len(_feed(client, s.commissioner())) * 2)  # both hooks got everything
    stopped = client.delete(f"{SUBSCRIPTIONS}/{first['id']}", headers=s.commissioner())

    assert stopped.status_code == 204 and stopped.content == b""
    s.assert_problem(client.get(f"{SUBSCRIPTIONS}/{first['id']}", headers=s.auditor()), 404)
    s.assert_problem(
        client.get(f"{SUBSCRIPTIONS}/{first['id']}/deliveries", headers=s.auditor()), 404
    )
    s.assert_problem(client.delete(f"{SUBSCRIPTIONS}/{first['id']}", headers=s.auditor()), 404)
    after = client.get(SUBSCRIPTIONS, headers=s.auditor()).json()["items"]
    assert [i["id"] for i in after] == [second["id"]]
    # What happens next reaches the remaining hook, and no longer the stopped one.
    seen = len(receiver.received)
    published = client.post(
        contract.url("/publications"),
        headers=s.commissioner(),
        json={"audience": "council", "channel": "web", "summary": "Voortgang"},
    )
    assert published.status_code == 201, published.text
    receiver.wait_for(seen + 1)
    time.sleep(0.5)  # ten of the deliverer's polls: a delivery to the stopped hook would be here
    assert len(receiver.received) == seen + 1
    deliveries = client.get(
        f"{SUBSCRIPTIONS}/{second['id']}/deliveries", headers=s.auditor()
    ).json()["items"]
    assert len(deliveries) == seen // 2 + 1
