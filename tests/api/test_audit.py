"""Audit router over HTTP: history page by page, differences in words, verification."""

from __future__ import annotations

import itertools
import re

from fastapi.testclient import TestClient

from tests.support import api as s
from tests.support.api import ActiveContract

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def test_history_pages_follow_next_cursor(client: TestClient, active: ActiveContract) -> None:
    # Opened, two providers invited, both accepting, activated, session: seven events.
    items: list[dict[str, object]] = []
    after = 0
    cursors: list[int | None] = []
    while True:
        response = client.get(
            active.url("/history"), headers=s.auditor(), params={"after": after, "limit": 2}
        )
        assert response.status_code == 200
        page = response.json()
        items += page["items"]
        cursors.append(page["nextCursor"])
        if page["nextCursor"] is None:
            break
        after = page["nextCursor"]
    assert cursors == [2, 4, 6, None]
    assert [item["version"] for item in items] == [1, 2, 3, 4, 5, 6, 7]
    assert [item["type"] for item in items] == [
        "ContractOpened", "ProviderAdmitted", "ProviderAdmitted", "ProviderAccepted",
        "ProviderAccepted", "ContractActivated", "SessionHeld",
    ]  # fmt: skip
    first = items[0]
    assert set(first) == {
        "version", "type", "recordedAt", "effectiveOn", "actor", "sessionId", "decisionRef",
        "reason", "data", "digest", "priorDigest",
    }  # fmt: skip
    assert first["actor"] == {
        "sub": "ann", "name": "Ann de Vries", "org": "gemeente-utrecht",
        "role": "contract_manager",
    }  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:\d{2})", str(first["recordedAt"]))
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(first["effectiveOn"]))
    for before, after_item in itertools.pairwise(items):
        assert after_item["priorDigest"] == before["digest"]
        assert HEX64.match(str(after_item["digest"]))
    assert items[6]["sessionId"] == active.session_id
    # A page exactly at the end also ends with null.
    last = client.get(active.url("/history"), headers=s.auditor(), params={"after": 7})
    assert last.json() == {"items": [], "nextCursor": None}
    whole = client.get(active.url("/history"), headers=s.commissioner(), params={"limit": 7})
    assert whole.json()["nextCursor"] is None


def test_diff_in_words(client: TestClient, active: ActiveContract) -> None:
    """Dutch by default, organisations by name, euros as a Dutch reader writes them, and the
    proposal, session, reason and decision behind each change; English on request."""
    s.agree(
        client,
        active,
        "adjustment",
        s.adjustment(
            allocations=[{"org": "zorg-a", "amount": "1220000.00"}],
            ceiling="1500000.00",
            decisionRef="Raadsbesluit 2025-12",
            justification="Meer vraag",
        ),
    )
    head = s.read_contract(client, active)["version"]
    response = client.get(active.url("/diff"), headers=s.auditor(), params={"from": 1, "to": head})
    assert response.status_code == 200
    assert response.headers["content-language"] == "nl"
    body = response.json()
    assert (body["fromVersion"], body["toVersion"], body["language"]) == (1, head, "nl")
    for change in body["changes"]:
        assert set(change) == {"path", "before", "after", "summary", "why"}
        assert change["summary"]
    by_path = {c["path"]: c for c in body["changes"]}
    assert by_path["status"]["summary"] == "Status: in voorbereiding → actief"
    assert by_path["status"]["why"]["event"] == "ContractActivated"
    allocation = by_path["financialFramework.allocations.zorg-a"]
    assert allocation["summary"] == "Budget voor Zorg zorg-a: € 0,00 → € 1.220.000,00"
    why = allocation["why"]
    assert why["event"] == "ProposalAgreed" and why["proposalId"]
    assert why["sessionId"] == active.session_id and why["sessionHeldOn"] == "2025-02-03"
    assert why["decisionRef"] == "Raadsbesluit 2025-12"
    assert why["reason"] and why["by"]["org"]
    assert by_path["financialFramework.ceiling"]["summary"] == (
        "Plafond € 1.000.000,00 → € 1.500.000,00"
    )
    assert any(c["summary"] == "Aanbieder Zorg zorg-a uitgenodigd" for c in body["changes"])
    english = client.get(
        active.url("/diff"),
        headers={**s.auditor(), "Accept-Language": "en-GB, nl;q=0.5"},
        params={"from": 1, "to": head},
    )
    assert english.headers["content-language"] == "en"
    summaries = [c["summary"] for c in english.json()["changes"]]
    assert "Status: draft → active" in summaries
    assert "Allocation to Zorg zorg-a: €0.00 → €1,220,000.00" in summaries
    same = client.get(active.url("/diff"), headers=s.auditor(), params={"from": 2, "to": 2})
    assert same.status_code == 200
    assert same.json()["changes"] == []
    out_of_range = client.get(
        active.url("/diff"), headers=s.auditor(), params={"from": 1, "to": head + 1}
    )
    s.assert_problem(out_of_range, 400, "invalid-query")
    backwards = client.get(active.url("/diff"), headers=s.auditor(), params={"from": 3, "to": 2})
    s.assert_problem(backwards, 400, "invalid-query")


def test_diff_shows_full_texts(client: TestClient, active: ActiveContract) -> None:
    """A changed assignment shows both texts whole, however long and however alike."""
    old = s.read_contract(client, active)["assignment"]
    new = old + " " + "En ook 's avonds en in het weekend bereikbaar. " * 5
    s.agree(client, active, "scope_refinement", {"assignment": new})
    head = s.read_contract(client, active)["version"]
    body = client.get(
        active.url("/diff"), headers=s.auditor(), params={"from": 1, "to": head}
    ).json()
    (change,) = [c for c in body["changes"] if c["path"] == "assignment"]
    assert change["before"] == old and change["after"] == new.strip()
    assert old in change["summary"] and new.strip() in change["summary"]


def test_verification_valid(client: TestClient, active: ActiveContract) -> None:
    response = client.get(active.url("/verification"), headers=s.auditor())
    assert response.status_code == 200
    head = s.read_contract(client, active)
    assert response.json() == {
        "valid": True,
        "versionsChecked": 7,
        "snapshotsChecked": 0,  # the first snapshot comes at version 50
        "headDigest": head["headDigest"],
        "firstInvalidVersion": None,
        "reason": None,
    }
