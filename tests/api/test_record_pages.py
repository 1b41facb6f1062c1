"""The collections that grow with the history are paged sub-resources (issue 14, point 1):
sessions, measurements, proposals, publications, consultations, evaluations, corrections."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support import api as s

KINDS = (
    "sessions",
    "measurements",
    "proposals",
    "publications",
    "consultations",
    "evaluations",
    "corrections",
)


def test_sessions_come_a_page_at_a_time_oldest_first(
    client: TestClient, active: s.ActiveContract
) -> None:
    held = [active.session_id]
    for day in ("2025-03-03", "2025-04-07", "2025-05-05", "2025-06-02"):
        response = client.post(
            active.url("/sessions"), headers=s.commissioner(), json=s.session_body(day)
        )
        assert response.status_code == 201, response.text
        held.append(response.json()["sessionId"])
    seen: list[str] = []
    after = 0
    for _ in range(10):
        page = client.get(
            active.url("/sessions"), headers=s.reader(), params={"after": after, "limit": 2}
        )
        assert page.status_code == 200, page.text
        assert page.headers["etag"] == f'"{s.read_contract(client, active)["version"]}"'
        body = page.json()
        seen += [item["sessionId"] for item in body["items"]]
        if body["nextCursor"] is None:
            break
        after = body["nextCursor"]
    assert seen == held
    # At a version: the collection as it stood then.
    at_five = client.get(active.url("/sessions"), headers=s.reader(), params={"version": 7})
    assert [i["sessionId"] for i in at_five.json()["items"]] == held[:1]


@pytest.mark.parametrize("kind", KINDS)
def test_every_collection_is_paged_and_only_for_who_may_read(
    client: TestClient, active: s.ActiveContract, kind: str
) -> None:
    response = client.get(active.url(f"/{kind}"), headers=s.reader(), params={"limit": 1})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"items", "nextCursor"}
    assert len(body["items"]) <= 1
    s.assert_problem(client.get(active.url(f"/{kind}"), headers=s.outsider()), 404)
    s.assert_problem(
        client.get(active.url(f"/{kind}"), headers=s.reader(), params={"limit": 0}), 400
    )
