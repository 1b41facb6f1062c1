"""The change feed over HTTP (issue 15): CloudEvents in commit order, only what the caller's
organisation may see (grants and their revocation respected), filters, cursors and 304s."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from application.feed import FeedPage
from tests.support import api as s
from tests.support.api import API
from tests.support.people import RIA

FEED = f"{API}/events"


def _all(client: TestClient, headers: s.Headers, **params: Any) -> list[dict[str, Any]]:
    """Follow nextCursor until a page comes back empty (bounded)."""
    items: list[dict[str, Any]] = []
    after = 0
    for _ in range(500):
        page = client.get(FEED, headers=headers, params={**params, "after": after, "limit": 3})
        assert page.status_code == 200, page.text
        body = page.json()
        if not body["items"]:
            assert body["nextCursor"] >= after
            return items
        items += body["items"]
        after = body["nextCursor"]
    raise AssertionError("the feed never ended")


def test_each_event_is_a_cloudevent_in_commit_order(client: TestClient) -> None:
    contract = s.active_contract(client)
    events = _all(client, s.reader())
    history = client.get(contract.url("/history"), headers=s.auditor()).json()["items"]
    assert [e["data"]["version"] for e in events] == [h["version"] for h in history]
    assert [e["data"]["digest"] for e in events] == [h["digest"] for h in history]
    # Built as plain data, each event's data is exactly the history's entry (a model's dump)…
    assert [e["data"] for e in events] == [
        {k: v for k, v in h.items() if k != "type"} for h in history
    ]
    # …and a page is exactly what the documented schema (FeedPage) reads and writes.
    page = client.get(FEED, params={"limit": 5}, headers=s.reader()).json()
    assert FeedPage.model_validate(page).model_dump(mode="json", by_alias=True) == page
    positions = [int(e["sequence"]) for e in events]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    first = events[0]
    assert first["specversion"] == "1.0"
    assert first["type"] == "nl.dialoog.contract.contract-opened"
    assert first["subject"] == contract.id
    assert first["id"] == f"{contract.id}-1"
    assert first["source"] == "urn:nld:dialoog"
    assert first["datacontenttype"] == "application/json"
    assert first["time"].startswith(history[0]["recordedAt"][:19])
    assert {e["type"] for e in events} >= {
        "nl.dialoog.contract.provider-admitted",
        "nl.dialoog.contract.contract-activated",
        "nl.dialoog.contract.session-held",
    }


def test_only_what_the_organisation_may_see(client: TestClient) -> None:
    mine = s.active_contract(client)
    second = s.open_contract(client, "WMO-2025-099")  # never granted to anyone
    assert {e["subject"] for e in _all(client, s.reader())} == {mine.id, second}
    assert _all(client, s.outsider()) == []
    assert {e["subject"] for e in _all(client, s.provider_a())} == {mine.id}
    assert _all(client, s.headers_of(RIA)) == []

    granted = client.post(
        mine.url("/access-grants"),
        headers=s.commissioner(),
        json={"org": RIA.org, "role": "auditor", "reason": "Onderzoek inkoop sociaal domein"},
    )
    assert granted.status_code == 201, granted.text
    seen = _all(client, s.headers_of(RIA))
    assert {e["subject"] for e in seen} == {mine.id}
    assert seen[-1]["type"] == "nl.dialoog.contract.access-granted"

    revoked = client.post(
        mine.url(f"/access-grants/{granted.json()['grantId']}/revocation"),
        headers=s.commissioner(),
        json={"reason": "Onderzoek afgerond"},
    )
    assert revoked.status_code == 200, revoked.text
    assert _all(client, s.headers_of(RIA)) == []


def test_filters_by_contract_and_type(client: TestClient) -> None:
    mine = s.active_contract(client)
    other = s.open_contract(client, "WMO-2025-099")
    only_other = _all(client, s.reader(), contractId=other)
    assert only_other
    assert {e["subject"] for e in only_other} == {other}
    sessions = _all(client, s.reader(), type="nl.dialoog.contract.session-held")
    assert sessions
    assert {(e["type"], e["subject"]) for e in sessions} == {
        ("nl.dialoog.contract.session-held", mine.id)
    }
    both = _all(
        client,
        s.reader(),
        type=["nl.dialoog.contract.session-held", "nl.dialoog.contract.contract-opened"],
    )
    assert len(both) == len(sessions) + 2


def test_a_contract_it_may_not_see_is_404_and_bad_input_400(client: TestClient) -> None:
    mine = s.active_contract(client)
    hidden = client.get(FEED, headers=s.outsider(), params={"contractId": mine.id})
    s.assert_problem(hidden, 404, "contract-not-found")
    s.assert_problem(client.get(FEED, headers=s.reader(), params={"type": "bogus"}), 400)
    s.assert_problem(client.get(FEED, headers=s.reader(), params={"after": -1}), 400)
    s.assert_problem(client.get(FEED, headers=s.reader(), params={"limit": 0}), 400)
    s.assert_problem(client.get(FEED, headers=s.reader(), params={"contractId": "x"}), 400)
    s.assert_unauthenticated(client.get(FEED))


def test_the_cursor_moves_on_and_an_unchanged_page_is_304(client: TestClient) -> None:
    s.active_contract(client)
    page = client.get(FEED, headers=s.reader())
    cursor = page.json()["nextCursor"]
    tail = client.get(FEED, headers=s.reader(), params={"after": cursor})
    assert tail.json() == {"items": [], "nextCursor": cursor}
    again = client.get(
        FEED,
        headers={**s.reader(), "If-None-Match": tail.headers["etag"]},
        params={"after": cursor},
    )
    assert again.status_code == 304
    s.open_contract(client, "WMO-2025-100")
    changed = client.get(
        FEED,
        headers={**s.reader(), "If-None-Match": tail.headers["etag"]},
        params={"after": cursor},
    )
    assert changed.status_code == 200
    assert [e["type"] for e in changed.json()["items"]] == ["nl.dialoog.contract.contract-opened"]
